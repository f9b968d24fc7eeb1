using ILGPU;

namespace MnistGpu.Kernels;

public static class GatherKernels
{
    /// <summary>
    /// Assembles a mini-batch from the device-resident dataset, so no image crosses the bus
    /// after the one upload.
    /// images (N,P) uint8, labels (N), order (N) → x (B,P) = images[order[start + b]] / 255,
    /// batchLabels (B) = labels[order[start + b]]
    /// </summary>
    public static void Batch(
        ArrayView<byte> images, ArrayView<byte> labels, ArrayView<int> order, int start,
        ArrayView<float> x, ArrayView<int> batchLabels, int batch, int pixels)
    {
        int total = batch * pixels;
        for (int i = GridStride.First, step = GridStride.Step; i < total; i += step)
        {
            int row = i / pixels;
            int pixel = i - row * pixels;
            int sample = order[start + row];
            x[i] = images[sample * pixels + pixel] / 255f;
            if (pixel == 0)
                batchLabels[row] = labels[sample];
        }
    }
}
