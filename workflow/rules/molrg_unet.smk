# rules: molrg_unet (filled by its issue)
