using MnistGpu.Runner;

return Cli.Run(args, Console.Out, Console.Error);
