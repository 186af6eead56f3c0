from kea_fanvil.cli.app import main

main()
