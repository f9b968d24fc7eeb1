using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Algorithms.ScanReduceOperations;

namespace MnistGpu.Kernels;

/// <summary>
/// Everything the fused training step of dense layers P → H1 → … → Hn → C (ReLU after each hidden
/// one, softmax last) reads and writes, as one kernel argument. Parameters and the optimizer's
/// state are the flat arrays of the network: W1 (P,H1), b1 (H1), W2, b2, …; every layer's output
/// and output gradient lie in two flat arrays, layer after layer, which <see cref="LayerTable"/>
/// describes.
/// </summary>
public readonly struct FusedStep
{
    /// <summary>images (N,P) uint8, labels (N), order (N): the split on the device and this epoch's order.</summary>
    public ArrayView<byte> Images { get; init; }
    public ArrayView<byte> Labels { get; init; }
    public ArrayView<int> Order { get; init; }

    public ArrayView<float> Parameters { get; init; }

    /// <summary>The optimizer's state arrays, in the parameters' layout: RMSprop's mean squares, Adam's two moments, SGD's velocity; unused ones may be any array.</summary>
    public ArrayView<float> State1 { get; init; }
    public ArrayView<float> State2 { get; init; }

    /// <summary>The last hidden layer's output hn (B,Hn), the tail's input; the first layer's output in a network of one hidden layer.</summary>
    public ArrayView<float> TailInput { get; init; }

    /// <summary>dhn (B,Hn), masked by the ReLU: what the tail writes for the layers below.</summary>
    public ArrayView<float> TailInputGradient { get; init; }

    /// <summary>Hn, and where the output layer's weights (Hn,C) start in <see cref="Parameters"/>; its biases follow them.</summary>
    public int TailInputs { get; init; }
    public int OutputWeights { get; init; }

    /// <summary>
    /// Every layer's output, and every layer's output gradient (the last one's is dz), as
    /// <see cref="LayerTable"/> places them; the first layer's h (B,H1) = ReLU(x·W1 + b1) starts at 0.
    /// </summary>
    public ArrayView<float> Activations { get; init; }
    public ArrayView<float> ActivationGradients { get; init; }

    /// <summary>Per dense layer (<see cref="DenseLayers"/> of them), a row of <see cref="LayerFields"/> ints, the fields below.</summary>
    public ArrayView<int> LayerTable { get; init; }

    /// <summary>The layer's inputs and outputs.</summary>
    public const int InputsField = 0, OutputsField = 1;

    /// <summary>Where its parameters start in <see cref="Parameters"/>.</summary>
    public const int ParametersField = 2;

    /// <summary>Where its input starts in <see cref="Activations"/>; −1 for the gathered pixels.</summary>
    public const int InputField = 3;

    /// <summary>Where its output gradient starts in <see cref="ActivationGradients"/>.</summary>
    public const int GradientField = 4;

    public const int LayerFields = 5;

    /// <summary>dz (B,C) = (softmax − onehot)/B; for a forward-only pass, the probabilities (B,C).</summary>
    public ArrayView<float> Output { get; init; }

    /// <summary>losses[Start + b], predictions[Start + b]: per sample, at its place in the pass.</summary>
    public ArrayView<float> Losses { get; init; }
    public ArrayView<int> Predictions { get; init; }

    // The 4-byte fields come last, an even number of them: OpenCL gets this struct as one
    // argument, and strict drivers (Mesa's) refuse one whose size has trailing padding
    // (KernelArgumentLayoutTests).
    public int DenseLayers { get; init; }
    public int Start { get; init; }
    public int Batch { get; init; }
    public int Pixels { get; init; }
    public int HiddenUnits { get; init; }
    public int Classes { get; init; }

    /// <summary>
    /// A dropout right after the first hidden layer, folded into launch 1 as it stores h: the step's
    /// key and threshold (<see cref="DropoutMask"/>), and what a kept value is multiplied by,
    /// 1 / (1 − rate). Threshold 0 and scale 1 keep h as it is: no dropout, or a pass that does not train.
    /// </summary>
    public uint HiddenDropoutKey { get; init; }
    public uint HiddenDropoutThreshold { get; init; }
    public float HiddenDropoutScale { get; init; }

    /// <summary>
    /// What the tail multiplies dhn by where hn &gt; 0: a dropout's scale when one follows the last
    /// hidden layer (hn is then its output, 0 where it dropped), else 1.
    /// </summary>
    public float TailDropoutScale { get; init; }

    /// <summary>The optimizer and its arguments for this update, as the separate optimizer kernels take them.</summary>
    public OptimizerStep Optimizer { get; init; }

    public int Bias1 => Pixels * HiddenUnits;

    public int OutputBias => OutputWeights + TailInputs * Classes;

    /// <summary>h[row, column] from its sum x·W1: ReLU(sum + b1), then the folded dropout's mask and scale, as the separate operations apply them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float HiddenOutput(int row, int column, float sum)
    {
        float h = Math.Max(sum + Parameters[Bias1 + column], 0f);
        return HiddenDropoutThreshold == 0 || DropoutMask.Keeps(HiddenDropoutKey, row * HiddenUnits + column, HiddenDropoutThreshold) ? h * HiddenDropoutScale : 0f;
    }

    /// <summary>x[b, k] = images[order[start + b], k] / 255, gathered where it is used: no x buffer exists.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Pixel(int row, int k) => Images[Order[Start + row] * Pixels + k] / 255f;
}

/// <summary>
/// A training step in three launches, each boundary a grid-wide dependency:
/// 1. <c>HiddenForward*</c>: h = ReLU(x·W1 + b1), x gathered from the uint8 images on the fly, and
///    a dropout after it applied as h is stored;
/// 2. <c>Tail*</c>: per row, z = hn·Wo + bo, softmax-cross-entropy, dz and dhn = dz·Woᵀ ⊙ [hn &gt; 0]
///    (times a dropout's scale when one follows hn);
/// 3. <c>GradientsUpdate*</c>: every parameter's gradient computed whole by one thread
///    ([xᵀ; 1ᵀ]·dh1, [h1ᵀ; 1ᵀ]·dh2, …, [hnᵀ; 1ᵀ]·dz, the ones row giving the biases) and the
///    optimizer applied in registers, so no gradient is ever stored.
/// A network of more hidden layers adds, between 1 and 2, one dense forward launch per extra
/// layer, and between 2 and 3 one input-gradient launch per extra layer (the separate matrix
/// kernels): 3 + 2 per extra hidden layer. A dropout after a hidden layer adds the engine's
/// dropout kernel, in place: forward unless it follows the first (launch 1 applies it), backward
/// unless it follows the last (the tail applies its scale).
/// Each comes as a GPU form (<c>*Tiled</c>, <c>*PerGroup</c>: shared-memory tiles, group
/// reductions) and a form for CPU-like devices (<c>*Panel</c>, <c>*PerRow</c>: fat work items that
/// skip zero pixels), with the same arithmetic as the unfused kernels.
/// </summary>
public static partial class FusedStepKernels
{
    /// <summary>GPU tiles are Tile×Tile outputs, one per thread: 128×512 is 256 groups, enough for a large GPU.</summary>
    public const int Tile = 16;

    public const int TileDepth = 32;

    public const int TiledGroupSize = Tile * Tile;

    /// <summary>Bytes of shared memory one group of the tiled kernels uses.</summary>
    public const int TiledSharedMemoryBytes = 2 * TileDepth * Tile * sizeof(float);

    /// <summary>The fused tail holds a row's logits in registers or shared memory; more classes run unfused.</summary>
    public const int MaxClasses = 16;

    private const int PanelRows = MatMulKernels.PanelRows;
    private const int PanelCols = MatMulKernels.PanelCols;

    /// <summary>Launch 1, GPU: images[order] (B,P) / 255 · W1 (P,H) + b1 → ReLU → h (B,H). Needs groups of exactly <see cref="TiledGroupSize"/>.</summary>
    public static void HiddenForwardTiled(FusedStep s)
    {
        var tileA = SharedMemory.Allocate1D<float>(TileDepth * Tile);
        var tileB = SharedMemory.Allocate1D<float>(TileDepth * Tile);
        int thread = Group.IdxX;
        int tx = thread % Tile, ty = thread / Tile;
        int hidden = s.HiddenUnits, pixels = s.Pixels;
        int blockColumns = (hidden + Tile - 1) / Tile;
        int blocks = (s.Batch + Tile - 1) / Tile * blockColumns;
        for (int block = Grid.IdxX; block < blocks; block += Grid.DimX)
        {
            int row0 = block / blockColumns * Tile, col0 = block % blockColumns * Tile;
            float sum = 0f;
            for (int k0 = 0; k0 < pixels; k0 += TileDepth)
            {
                for (int i = thread; i < TileDepth * Tile; i += TiledGroupSize)
                {
                    // Pixels of a row are contiguous along k; W1 is contiguous along its columns.
                    int r = i / TileDepth, kk = i % TileDepth;
                    tileA[kk * Tile + r] = row0 + r < s.Batch && k0 + kk < pixels ? s.Pixel(row0 + r, k0 + kk) : 0f;
                    int c = i % Tile, kb = i / Tile;
                    tileB[kb * Tile + c] = col0 + c < hidden && k0 + kb < pixels ? s.Parameters[(k0 + kb) * hidden + col0 + c] : 0f;
                }

                Group.Barrier();
                for (int kk = 0; kk < TileDepth; kk++)
                    sum += tileA[kk * Tile + ty] * tileB[kk * Tile + tx];
                Group.Barrier();
            }

            if (row0 + ty < s.Batch && col0 + tx < hidden)
                s.Activations[(row0 + ty) * hidden + col0 + tx] = s.HiddenOutput(row0 + ty, col0 + tx, sum);
        }
    }

    /// <summary>Launch 1, CPU-like devices: each work item a 4×16 panel of h, skipping every k where its four pixels are 0 (most of MNIST).</summary>
    public static void HiddenForwardPanel(FusedStep s)
    {
        int hidden = s.HiddenUnits, pixels = s.Pixels;
        int panels = (hidden + PanelCols - 1) / PanelCols;
        int items = (s.Batch + PanelRows - 1) / PanelRows * panels;
        for (int item = Grid.GlobalIndex.X, step = Grid.DimX * Group.DimX; item < items; item += step)
        {
            int row0 = item / panels * PanelRows, col0 = item % panels * PanelCols;
            int width = Math.Min(PanelCols, hidden - col0);
            // Rows past the batch repeat its last row; they are never stored.
            int r0 = s.Order[s.Start + Math.Min(row0, s.Batch - 1)] * pixels, r1 = s.Order[s.Start + Math.Min(row0 + 1, s.Batch - 1)] * pixels;
            int r2 = s.Order[s.Start + Math.Min(row0 + 2, s.Batch - 1)] * pixels, r3 = s.Order[s.Start + Math.Min(row0 + 3, s.Batch - 1)] * pixels;
            Float4 c00 = default, c01 = default, c02 = default, c03 = default;
            Float4 c10 = default, c11 = default, c12 = default, c13 = default;
            Float4 c20 = default, c21 = default, c22 = default, c23 = default;
            Float4 c30 = default, c31 = default, c32 = default, c33 = default;
            for (int k = 0; k < pixels; k++)
            {
                byte p0 = s.Images[r0 + k], p1 = s.Images[r1 + k], p2 = s.Images[r2 + k], p3 = s.Images[r3 + k];
                if ((p0 | p1 | p2 | p3) == 0)
                    continue;
                float a0 = p0 / 255f, a1 = p1 / 255f, a2 = p2 / 255f, a3 = p3 / 255f;
                int w = k * hidden + col0;
                var v0 = Row4(s.Parameters, w, 0, width);
                var v1 = Row4(s.Parameters, w, 4, width);
                var v2 = Row4(s.Parameters, w, 8, width);
                var v3 = Row4(s.Parameters, w, 12, width);
                c00.AddScaled(a0, v0); c01.AddScaled(a0, v1); c02.AddScaled(a0, v2); c03.AddScaled(a0, v3);
                c10.AddScaled(a1, v0); c11.AddScaled(a1, v1); c12.AddScaled(a1, v2); c13.AddScaled(a1, v3);
                c20.AddScaled(a2, v0); c21.AddScaled(a2, v1); c22.AddScaled(a2, v2); c23.AddScaled(a2, v3);
                c30.AddScaled(a3, v0); c31.AddScaled(a3, v1); c32.AddScaled(a3, v2); c33.AddScaled(a3, v3);
            }

            StoreHiddenRow(s, row0, col0, width, c00, c01, c02, c03);
            StoreHiddenRow(s, row0 + 1, col0, width, c10, c11, c12, c13);
            StoreHiddenRow(s, row0 + 2, col0, width, c20, c21, c22, c23);
            StoreHiddenRow(s, row0 + 3, col0, width, c30, c31, c32, c33);
        }
    }

    /// <summary>
    /// Launch 3, GPU: Tile×Tile parameter gradients per group, one whole sum over the batch per
    /// thread (batch staged in shared memory <see cref="TileDepth"/> rows at a time), then the
    /// optimizer (<see cref="FusedStep.Rule"/>). Tiles of layer 1 ([xᵀ; 1ᵀ]·dh1) come first, then
    /// each layer above it ([hᵀ; 1ᵀ]·dy), the output layer's last.
    /// </summary>
    public static void GradientsUpdateTiled(FusedStep s)
    {
        var tileA = SharedMemory.Allocate1D<float>(TileDepth * Tile);
        var tileD = SharedMemory.Allocate1D<float>(TileDepth * Tile);
        int thread = Group.IdxX;
        int tx = thread % Tile, ty = thread / Tile;
        for (int index = Grid.IdxX, blocks = BlockCount(s, Tile, Tile); index < blocks; index += Grid.DimX)
        {
            var block = Locate(s, index, Tile, Tile);
            int inputs = block.Inputs, outputs = block.Outputs, parameters = block.Parameters;
            int input = block.Input, gradient = block.Gradient, k0 = block.Row0, col0 = block.Column0;
            float sum = 0f;
            for (int b0 = 0; b0 < s.Batch; b0 += TileDepth)
            {
                for (int i = thread; i < TileDepth * Tile; i += TiledGroupSize)
                {
                    int bb = i / Tile, c = i % Tile;
                    int b = b0 + bb, k = k0 + c, o = col0 + c;
                    tileA[bb * Tile + c] = b >= s.Batch ? 0f : Left(s, input, b, k, inputs);
                    tileD[bb * Tile + c] = b >= s.Batch || o >= outputs ? 0f : s.ActivationGradients[gradient + b * outputs + o];
                }

                Group.Barrier();
                for (int bb = 0; bb < TileDepth; bb++)
                    sum += tileA[bb * Tile + ty] * tileD[bb * Tile + tx];
                Group.Barrier();
            }

            if (k0 + ty <= inputs && col0 + tx < outputs)
                Update(s, parameters + (k0 + ty) * outputs + col0 + tx, sum);
        }
    }

    /// <summary>
    /// Launch 3, CPU-like devices: each work item a 4×16 panel of one layer's parameters, summing
    /// over the batch and skipping rows where its four left-operand values are 0, then the optimizer.
    /// </summary>
    public static void GradientsUpdatePanel(FusedStep s)
    {
        int pixels = s.Pixels, items = BlockCount(s, PanelRows, PanelCols);
        for (int item = Grid.GlobalIndex.X, step = Grid.DimX * Group.DimX; item < items; item += step)
        {
            var panel = Locate(s, item, PanelRows, PanelCols);
            int inputs = panel.Inputs, outputs = panel.Outputs, parameters = panel.Parameters;
            int input = panel.Input, gradient = panel.Gradient, k0 = panel.Row0, col0 = panel.Column0;
            int width = Math.Min(PanelCols, outputs - col0);
            Float4 c00 = default, c01 = default, c02 = default, c03 = default;
            Float4 c10 = default, c11 = default, c12 = default, c13 = default;
            Float4 c20 = default, c21 = default, c22 = default, c23 = default;
            Float4 c30 = default, c31 = default, c32 = default, c33 = default;
            // Most of the first layer's panels lie wholly inside the images: their four pixels are
            // read as bytes, and the step is skipped before any conversion when all four are 0.
            bool pixelsInside = input < 0 && k0 + PanelRows <= inputs;
            for (int b = 0; b < s.Batch; b++)
            {
                float a0, a1, a2, a3;
                if (pixelsInside)
                {
                    int image = s.Order[s.Start + b] * pixels + k0;
                    byte p0 = s.Images[image], p1 = s.Images[image + 1], p2 = s.Images[image + 2], p3 = s.Images[image + 3];
                    if ((p0 | p1 | p2 | p3) == 0)
                        continue;
                    (a0, a1, a2, a3) = (p0 / 255f, p1 / 255f, p2 / 255f, p3 / 255f);
                }
                else
                {
                    (a0, a1, a2, a3) = (Left(s, input, b, k0, inputs), Left(s, input, b, k0 + 1, inputs), Left(s, input, b, k0 + 2, inputs), Left(s, input, b, k0 + 3, inputs));
                    if (a0 == 0f && a1 == 0f && a2 == 0f && a3 == 0f)
                        continue;
                }

                int d0 = gradient + b * outputs + col0;
                var v0 = Row4(s.ActivationGradients, d0, 0, width);
                var v1 = Row4(s.ActivationGradients, d0, 4, width);
                var v2 = Row4(s.ActivationGradients, d0, 8, width);
                var v3 = Row4(s.ActivationGradients, d0, 12, width);
                c00.AddScaled(a0, v0); c01.AddScaled(a0, v1); c02.AddScaled(a0, v2); c03.AddScaled(a0, v3);
                c10.AddScaled(a1, v0); c11.AddScaled(a1, v1); c12.AddScaled(a1, v2); c13.AddScaled(a1, v3);
                c20.AddScaled(a2, v0); c21.AddScaled(a2, v1); c22.AddScaled(a2, v2); c23.AddScaled(a2, v3);
                c30.AddScaled(a3, v0); c31.AddScaled(a3, v1); c32.AddScaled(a3, v2); c33.AddScaled(a3, v3);
            }

            UpdatePanelRow(s, parameters, k0, inputs, outputs, col0, width, c00, c01, c02, c03);
            UpdatePanelRow(s, parameters, k0 + 1, inputs, outputs, col0, width, c10, c11, c12, c13);
            UpdatePanelRow(s, parameters, k0 + 2, inputs, outputs, col0, width, c20, c21, c22, c23);
            UpdatePanelRow(s, parameters, k0 + 3, inputs, outputs, col0, width, c30, c31, c32, c33);
        }
    }

    /// <summary>Field <paramref name="field"/> of <see cref="FusedStep.LayerTable"/> for dense layer <paramref name="layer"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int LayerField(FusedStep s, int layer, int field) => s.LayerTable[layer * FusedStep.LayerFields + field];

    /// <summary>Blocks of rows × columns that cover layer <paramref name="layer"/>'s parameters, its biases as one more input row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Blocks(FusedStep s, int layer, int rows, int columns) =>
        (LayerField(s, layer, FusedStep.InputsField) + 1 + rows - 1) / rows * ((LayerField(s, layer, FusedStep.OutputsField) + columns - 1) / columns);

    /// <summary>Blocks of rows × columns that cover every layer's parameters, layer after layer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int BlockCount(FusedStep s, int rows, int columns)
    {
        int blocks = 0;
        for (int layer = 0; layer < s.DenseLayers; layer++)
            blocks += Blocks(s, layer, rows, columns);
        return blocks;
    }

    /// <summary>Block <paramref name="index"/> of <see cref="BlockCount"/>: its layer's fields and where it starts (a group's threads all find the same one).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ParameterBlock Locate(FusedStep s, int index, int rows, int columns)
    {
        int layer = 0;
        while (index >= Blocks(s, layer, rows, columns))
            index -= Blocks(s, layer++, rows, columns);
        int outputs = LayerField(s, layer, FusedStep.OutputsField), perRow = (outputs + columns - 1) / columns;
        return new ParameterBlock
        {
            Inputs = LayerField(s, layer, FusedStep.InputsField),
            Outputs = outputs,
            Parameters = LayerField(s, layer, FusedStep.ParametersField),
            Input = LayerField(s, layer, FusedStep.InputField),
            Gradient = LayerField(s, layer, FusedStep.GradientField),
            Row0 = index / perRow * rows,
            Column0 = index % perRow * columns,
        };
    }

    /// <summary>One block of a layer's parameters in launch 3: the layer's <see cref="FusedStep.LayerTable"/> fields and the block's first row and column.</summary>
    private struct ParameterBlock
    {
        public int Inputs;
        public int Outputs;
        public int Parameters;
        public int Input;
        public int Gradient;
        public int Row0;
        public int Column0;
    }

    /// <summary>Row k of a layer's [inputᵀ; 1ᵀ] at batch row b: the gathered pixels (<paramref name="input"/> −1) or the layer below's output; 0 past the ones row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Left(FusedStep s, int input, int b, int k, int inputs) =>
        k > inputs ? 0f : k == inputs ? 1f : input < 0 ? s.Pixel(b, k) : s.Activations[input + b * inputs + k];

    /// <summary>Four consecutive values from <paramref name="offset"/> + <paramref name="from"/>, 0 past <paramref name="width"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Float4 Row4(ArrayView<float> values, int offset, int from, int width) => new(
        from < width ? values[offset + from] : 0f,
        from + 1 < width ? values[offset + from + 1] : 0f,
        from + 2 < width ? values[offset + from + 2] : 0f,
        from + 3 < width ? values[offset + from + 3] : 0f);

    private static void StoreHiddenRow(FusedStep s, int row, int col0, int width, Float4 s0, Float4 s1, Float4 s2, Float4 s3)
    {
        if (row >= s.Batch)
            return;
        for (int j = 0; j < width; j++)
        {
            float sum = j < 4 ? s0[j] : j < 8 ? s1[j - 4] : j < 12 ? s2[j - 8] : s3[j - 12];
            s.Activations[row * s.HiddenUnits + col0 + j] = s.HiddenOutput(row, col0 + j, sum);
        }
    }

    private static void UpdatePanelRow(FusedStep s, int offset, int k, int inputs, int outputs, int col0, int width, Float4 s0, Float4 s1, Float4 s2, Float4 s3)
    {
        if (k > inputs)
            return;
        for (int j = 0; j < width; j++)
            Update(s, offset + k * outputs + col0 + j, j < 4 ? s0[j] : j < 8 ? s1[j - 4] : j < 12 ? s2[j - 8] : s3[j - 12]);
    }

    /// <summary>The step's optimizer on parameter <paramref name="i"/> with gradient <paramref name="g"/>: the same rules as <see cref="OptimizerKernels"/>' kernels.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(FusedStep s, int i, float g) => OptimizerKernels.Update(s.Optimizer, s.Parameters, s.State1, s.State2, i, g);
}
