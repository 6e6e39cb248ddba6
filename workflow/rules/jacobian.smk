# rules: jacobian (filled by its issue)
