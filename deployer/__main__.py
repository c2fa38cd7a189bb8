from deployer.cli.commands import main

main()
