from .cli import launch
from .cli.main import main

launch(main)
