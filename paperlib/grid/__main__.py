from ..cli import launch
from ..cli.grid import main

launch(main)
