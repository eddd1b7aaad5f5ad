"""`python -m por`: the same command as the `por` console script."""

from por.cli import main

if __name__ == "__main__":  # worker processes (Dask, multiprocessing spawn) import this module too
    main()
