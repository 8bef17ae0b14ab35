"""`python -m ml_service --port 3003`: the ML service alone, without Django or a database."""

from ml_service.server import main

main()
