using MnistGpu.Engine;
using MnistGpu.Engine.IO;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Memory;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace MnistGpu.Reports.Imaging;

/// <summary>
/// Turns a person's picture of a digit into an MNIST sample the way MNIST itself was made:
/// greyscale; white ink on black (inverted when the picture is dark on light); cropped to the
/// ink; scaled to fit 20×20 keeping its aspect ratio; placed in 28×28 with its centre of mass at
/// the centre. A picture that already is an MNIST sample (<see cref="AlreadyMnist"/>) is taken
/// pixel for pixel. Untrusted files are checked before decoding: known format, header at most
/// 4096×4096, first frame only, and a cap on what the decoder may allocate.
/// </summary>
public static class DigitImage
{
    public const int Side = 28;
    public const int MaxSide = 4096;
    private const int Box = 20;
    private const long MaxFileBytes = 64L << 20;

    /// <summary>Pixels whose ink, scaled to [0,1] between background and the darkest stroke, exceeds this form the digit's box.</summary>
    private const float InkThreshold = 0.1f;

    /// <summary>The formats people draw digits in; ImageSharp's others (TGA, TIFF, WebP, PBM) are refused.</summary>
    private static readonly IImageFormat[] Accepted = [PngFormat.Instance, JpegFormat.Instance, BmpFormat.Instance, GifFormat.Instance];

    private static readonly Configuration Decoding = CreateConfiguration();

    /// <summary>The 28×28 sample (row-major, values in [0,1]) for the picture at <paramref name="path"/>.</summary>
    /// <exception cref="UserInputException">Missing, empty, too large, not an accepted image, undecodable or blank.</exception>
    public static float[] Load(string path) => Decode(path, InputFile.ReadAll(path, "an image", MaxFileBytes));

    /// <summary>
    /// A picture file's width and height as its header states them, without decoding it; null
    /// when it is not a picture of an accepted format, or its header cannot be read.
    /// </summary>
    public static (int Width, int Height)? SizeOf(byte[] bytes)
    {
        try
        {
            var format = Image.DetectFormat(Decoding, bytes);
            return format is not null && Accepted.Contains(format) && Image.Identify(Decoding, bytes, out _) is { } info ? (info.Width, info.Height) : null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Crafted headers fail in many ways; Decode names the failure.
            return null;
        }
    }

    /// <summary>The 28×28 sample for the picture file <paramref name="bytes"/>; messages name it <paramref name="path"/>.</summary>
    /// <param name="maxSide">The largest width or height decoded, at most <see cref="MaxSide"/>.</param>
    /// <exception cref="UserInputException">Not an accepted image, damaged, too large, undecodable or blank.</exception>
    public static float[] Decode(string path, byte[] bytes, int maxSide = MaxSide)
    {
        Image<Rgba32> image;
        try
        {
            var format = Image.DetectFormat(Decoding, bytes);
            if (format is null)
                throw new UserInputException($"{path}: not an image (PNG, JPEG, BMP or GIF expected)");
            if (!Accepted.Contains(format))
                throw new UserInputException($"{path}: {format.Name} images are not accepted (PNG, JPEG, BMP or GIF expected)");
            if (PictureIntegrity.Problem(bytes, format) is string problem)
                throw new UserInputException($"{path}: the {format.Name} file is damaged: {problem}");
            var info = Image.Identify(Decoding, bytes, out _) ?? throw new UserInputException($"{path}: not an image (PNG, JPEG, BMP or GIF expected)");
            if (info.Width > maxSide || info.Height > maxSide || info.Width > MaxSide || info.Height > MaxSide)
                throw new UserInputException($"{path}: the image is {info.Width}x{info.Height}; the limit is {Math.Min(maxSide, MaxSide)}x{Math.Min(maxSide, MaxSide)}");
            image = Image.Load<Rgba32>(Decoding, bytes);
        }
        catch (UserInputException)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A decoder fed crafted bytes fails in ways no list of exception types foresees
            // (fuzzed JPEG tables end in NullReferenceException): every failure is this picture's.
            throw new UserInputException($"{path}: cannot decode the image: {e.Message.ReplaceLineEndings(" ")}", e);
        }

        using (image)
        {
            return AlreadyMnist(image) ?? Preprocess(image) ?? throw new UserInputException($"{path}: no digit found (the image is blank)");
        }
    }

    /// <summary>
    /// The picture's own values (byte / 255) when it is already an MNIST sample: 28×28, opaque,
    /// grey (red, green and blue equal in every pixel), and a light digit on a dark ground (the
    /// mean of the 108 border pixels below that of the central 14×14). Cropping and centring it
    /// again would move a digit MNIST has already centred by its mass; null for any other picture.
    /// </summary>
    public static float[]? AlreadyMnist(Image<Rgba32> image)
    {
        if (image.Width != Side || image.Height != Side)
            return null;
        var values = new float[Side * Side];
        bool grey = true;
        double border = 0, centre = 0;
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < Side && grey; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < Side; x++)
                {
                    var p = row[x];
                    grey &= p.R == p.G && p.G == p.B && p.A == byte.MaxValue;
                    values[y * Side + x] = p.R / 255f;
                    if (x == 0 || y == 0 || x == Side - 1 || y == Side - 1)
                        border += p.R;
                    else if (x >= Side / 4 && x < 3 * Side / 4 && y >= Side / 4 && y < 3 * Side / 4)
                        centre += p.R;
                }
            }
        });
        const int BorderPixels = 4 * (Side - 1), CentrePixels = Side / 2 * (Side / 2);
        return grey && border / BorderPixels < centre / CentrePixels ? values : null;
    }

    /// <summary>The MNIST-style sample of <paramref name="image"/>, or null when it has no ink.</summary>
    public static float[]? Preprocess(Image<Rgba32> image)
    {
        var ink = InkOf(image);
        var bounds = Bounds(ink, image.Width, image.Height);
        if (bounds is not Rectangle box)
            return null;

        // Scale the ink's box so that its longer side is 20 pixels.
        double scale = (double)Box / Math.Max(box.Width, box.Height);
        int width = Math.Max(1, (int)Math.Round(box.Width * scale));
        int height = Math.Max(1, (int)Math.Round(box.Height * scale));
        using var cropped = new Image<L16>(box.Width, box.Height);
        for (int y = 0; y < box.Height; y++)
        {
            for (int x = 0; x < box.Width; x++)
                cropped[x, y] = new L16((ushort)(ink[(box.Y + y) * image.Width + box.X + x] * ushort.MaxValue));
        }

        cropped.Mutate(c => c.Resize(width, height, KnownResamplers.Triangle));
        var scaled = new float[width * height];
        double massX = 0, massY = 0, mass = 0;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                float value = cropped[x, y].PackedValue / (float)ushort.MaxValue;
                scaled[y * width + x] = value;
                massX += value * x;
                massY += value * y;
                mass += value;
            }
        }

        // Place it so that its centre of mass falls on the centre of the 28x28 field.
        int offsetX = (int)Math.Round(Side / 2.0 - (mass > 0 ? massX / mass : width / 2.0) - 0.5);
        int offsetY = (int)Math.Round(Side / 2.0 - (mass > 0 ? massY / mass : height / 2.0) - 0.5);
        var sample = new float[Side * Side];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int tx = x + offsetX, ty = y + offsetY;
                if (tx >= 0 && tx < Side && ty >= 0 && ty < Side)
                    sample[ty * Side + tx] = Math.Clamp(scaled[y * width + x], 0f, 1f);
            }
        }

        return sample;
    }

    /// <summary>
    /// Ink per pixel in [0,1]: luminance over a white backdrop (for transparent pictures), inverted
    /// when the border — the background — is light, then stretched between the background level
    /// and the strongest stroke. All zeros when there is no contrast.
    /// </summary>
    private static float[] InkOf(Image<Rgba32> image)
    {
        int w = image.Width, h = image.Height;
        var luminance = new float[w * h];
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++)
                {
                    var p = row[x];
                    float alpha = p.A / 255f;
                    float grey = (0.299f * p.R + 0.587f * p.G + 0.114f * p.B) / 255f;
                    luminance[y * w + x] = alpha * grey + (1 - alpha);
                }
            }
        });

        var border = new List<float>(2 * (w + h));
        for (int x = 0; x < w; x++)
        {
            border.Add(luminance[x]);
            border.Add(luminance[(h - 1) * w + x]);
        }

        for (int y = 0; y < h; y++)
        {
            border.Add(luminance[y * w]);
            border.Add(luminance[y * w + w - 1]);
        }

        border.Sort();
        float background = border[border.Count / 2];
        bool invert = background > 0.5f;
        var ink = new float[w * h];
        float backgroundInk = invert ? 1 - background : background;
        float strongest = 0;
        for (int i = 0; i < ink.Length; i++)
        {
            ink[i] = (invert ? 1 - luminance[i] : luminance[i]) - backgroundInk;
            strongest = Math.Max(strongest, ink[i]);
        }

        // Less than an eighth of the range between background and stroke is no digit at all.
        if (strongest < 0.125f)
            return new float[w * h];
        for (int i = 0; i < ink.Length; i++)
            ink[i] = Math.Clamp(ink[i] / strongest, 0f, 1f);
        return ink;
    }

    private static Rectangle? Bounds(float[] ink, int width, int height)
    {
        int left = width, top = height, right = -1, bottom = -1;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                if (ink[y * width + x] <= InkThreshold)
                    continue;
                left = Math.Min(left, x);
                right = Math.Max(right, x);
                top = Math.Min(top, y);
                bottom = Math.Max(bottom, y);
            }
        }

        return right < 0 ? null : new Rectangle(left, top, right - left + 1, bottom - top + 1);
    }

    /// <summary>
    /// ImageSharp's defaults, with decoders limited to what one digit picture can need: no
    /// metadata is read (a PNG's compressed text or a JPEG's EXIF could inflate to gigabytes),
    /// and no allocation beyond what the largest accepted picture needs.
    /// </summary>
    private static Configuration CreateConfiguration()
    {
        var configuration = Configuration.Default.Clone();
        // 4096x4096 RGBA is 64 MiB; nothing a valid accepted image needs goes beyond twice that.
        configuration.MemoryAllocator = MemoryAllocator.Create(new MemoryAllocatorOptions { AllocationLimitMegabytes = 128 });
        configuration.ImageFormatsManager.SetDecoder(PngFormat.Instance, new PngDecoder { IgnoreMetadata = true });
        configuration.ImageFormatsManager.SetDecoder(JpegFormat.Instance, new JpegDecoder { IgnoreMetadata = true });
        configuration.ImageFormatsManager.SetDecoder(GifFormat.Instance, new GifDecoder { DecodingMode = SixLabors.ImageSharp.Metadata.FrameDecodingMode.First, MaxFrames = 1 });
        return configuration;
    }
}
