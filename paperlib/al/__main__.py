from ..cli import launch
from ..cli.al import main

launch(main)
