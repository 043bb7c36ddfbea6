from lanser.cli import main

main()
