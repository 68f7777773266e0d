from ..cli import launch
from ..cli.pipeline import main

launch(main)
