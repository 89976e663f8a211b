from sender.cli import main

main()
