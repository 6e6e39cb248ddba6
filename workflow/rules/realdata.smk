# rules: realdata (filled by its issue)
