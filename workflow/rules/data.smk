# rules: data (filled by its issue)
