using System.CommandLine;
using MnistGpu.Engine.IO;
using MnistGpu.Engine.Training;
using MnistGpu.Reports.Export;

namespace MnistGpu.Runner;

/// <summary><c>mnistgpu export</c>: a checkpoint's network as an ONNX model.</summary>
internal static class ExportCommand
{
    public static Command Create(TextWriter output, TextWriter diagnostics)
    {
        var model = ModelOption.Create();
        var onnx = new Option<FileInfo>("--onnx") { Description = "Write the ONNX model here", Required = true };
        var command = new Command("export", "Export a checkpoint's network as ONNX: Gemm (dense), Conv, MaxPool and Flatten, Relu, then Softmax; input [N, 784]") { model, onnx };
        command.SetAction(parsed =>
        {
            string path = parsed.GetValue(onnx)!.FullName;
            string modelPath = parsed.GetValue(model)!.FullName;
            new CommandFiles().Input("--model", modelPath).Output("--onnx", path).Check();
            var checkpoint = Checkpoint.Load(modelPath);
            OutputFile.Check(path, "--onnx", OnnxExporter.FileBytes(checkpoint.Shape));
            string operators = OnnxExporter.Export(checkpoint, path);
            diagnostics.WriteLine($"Wrote {path}: input '{OnnxExporter.InputName}' float [N,{checkpoint.Shape.Inputs}] in [0,1] -> {operators} -> '{OnnxExporter.OutputName}' float [N,{checkpoint.Shape.Classes}]");
            return Cli.Ok;
        });
        return command;
    }
}
