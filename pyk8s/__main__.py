"""``python -m pyk8s`` runs the command line."""

from pyk8s.cli import main

if __name__ == "__main__":
    main()
