"""The shell: the `kgft` command and the demo, composed from above every part (README: Architecture)."""
