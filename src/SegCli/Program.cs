using SegCli.Commands;

return Cli.Root().Parse(args).Invoke();
