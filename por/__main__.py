"""`python -m por`: the same command as the `por` console script."""

from por.cli import main

main()
