#!/usr/bin/env python
"""Entry point: ``python run.py [hydra overrides]``, e.g. ``python run.py model=logreg -m seed=0..9``.

Same as the installed ``oneclass`` command; see README.md and docs/.
"""

from oneclass.launch.cli import main

if __name__ == "__main__":
    main()
