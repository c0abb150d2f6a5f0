"""`python -m demo.generate` in a checkout: the same command as `python -m harness.demo.generate` (kept for the
noxfile's reproduce-demo session and the documented quick start)."""

from harness.demo.generate import main

if __name__ == "__main__":
    main()
