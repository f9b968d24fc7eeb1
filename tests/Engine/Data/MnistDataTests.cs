using MnistGpu.Engine;
using MnistGpu.Engine.Data;
using MnistGpu.Tests.Support;

namespace MnistGpu.Tests.Engine.Data;

public sealed class MnistDataTests
{
    [Fact]
    public void Bundled_set_has_the_mnist_sizes()
    {
        var mnist = Bundled.Mnist;
        Assert.Equal(60_000, mnist.Train.Count);
        Assert.Equal(10_000, mnist.Test.Count);
        Assert.Equal((28, 28), (mnist.Train.Rows, mnist.Train.Columns));
        Assert.Equal(60_000 * 784, mnist.Train.Images.Length);
        Assert.Equal(MnistData.BundledSource, mnist.Source);
    }

    [Fact]
    public void Bundled_test_labels_have_their_published_class_counts()
    {
        var labels = Bundled.Mnist.Test.Labels;
        var counts = Enumerable.Range(0, 10).Select(c => labels.Count(l => l == c)).ToArray();
        Assert.Equal([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009], counts);
    }

    [Fact]
    public void Bundled_set_is_the_one_in_the_repository()
    {
        using var copy = new TempDirectory();
        foreach (string file in Directory.GetFiles(Repository.MnistFolder))
            File.Copy(file, Path.Combine(copy.Path, Path.GetFileName(file)));
        var fromFolder = MnistData.Load(copy.Path);
        Assert.Equal(copy.Path, fromFolder.Source);
        Assert.Equal(fromFolder.Train.Images, Bundled.Mnist.Train.Images);
        Assert.Equal(fromFolder.Test.Labels, Bundled.Mnist.Test.Labels);
    }

    [Fact]
    public void Loads_a_folder_of_mixed_raw_and_gzip_files()
    {
        using var folder = IdxWriter.MnistSubset(trainCount: 50, testCount: 20);
        var data = MnistData.Load(folder.Path);
        Assert.Equal(50, data.Train.Count);
        Assert.Equal(20, data.Test.Count);
        Assert.Equal(Bundled.Mnist.Test.Labels[..20], data.Test.Labels);
    }

    [Fact]
    public void Rejects_a_missing_folder()
    {
        Assert.Contains("data folder not found", Assert.Throws<UserInputException>(() => MnistData.Load("/no/such/folder")).Message);
    }

    [Fact]
    public void Names_a_missing_file()
    {
        using var folder = IdxWriter.MnistSubset(trainCount: 10, testCount: 10);
        File.Delete(Path.Combine(folder.Path, "t10k-labels-idx1-ubyte"));
        Assert.Contains("no t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz", Assert.Throws<UserInputException>(() => MnistData.Load(folder.Path)).Message);
    }

    [Fact]
    public void Rejects_image_and_label_counts_that_disagree()
    {
        using var folder = IdxWriter.MnistSubset(trainCount: 10, testCount: 10);
        File.WriteAllBytes(Path.Combine(folder.Path, "t10k-labels-idx1-ubyte"), IdxWriter.Encode(new byte[9], 9));
        Assert.Contains("has 10 images but", Assert.Throws<UserInputException>(() => MnistData.Load(folder.Path)).Message);
    }

    [Fact]
    public void Rejects_a_label_outside_the_ten_classes()
    {
        using var folder = IdxWriter.MnistSubset(trainCount: 10, testCount: 10);
        var labels = new byte[10];
        labels[4] = 10;
        File.WriteAllBytes(Path.Combine(folder.Path, "t10k-labels-idx1-ubyte"), IdxWriter.Encode(labels, 10));
        Assert.Contains("label 10 at index 4", Assert.Throws<UserInputException>(() => MnistData.Load(folder.Path)).Message);
    }
}
