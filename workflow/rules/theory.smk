# rules: theory (filled by its issue)
