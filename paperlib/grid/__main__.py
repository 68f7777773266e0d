from ..cli.main import interrupted

try:
    from ..cli.grid import main

    code = main()
except KeyboardInterrupt as exc:  # SIGINT or SIGTERM: one line, exit code 130 or 143
    code = interrupted(exc)
raise SystemExit(code)
