using System.Buffers.Binary;
using System.Security.Cryptography;

namespace MnistGpu.Engine.Training;

/// <summary>The checkpoint's streams: every byte written or read goes through a SHA-256, floats in little-endian blocks.</summary>
public sealed partial record Checkpoint
{
    /// <summary>Writes to a stream while hashing what it writes, floats in little-endian blocks.</summary>
    private sealed class HashedWriter(Stream stream) : IDisposable
    {
        private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly byte[] block = new byte[FloatBlock * 4];

        public void Bytes(ReadOnlySpan<byte> bytes)
        {
            hash.AppendData(bytes);
            stream.Write(bytes);
        }

        public void Floats(ReadOnlySpan<float> values)
        {
            for (int start = 0; start < values.Length; start += FloatBlock)
            {
                var part = values.Slice(start, Math.Min(FloatBlock, values.Length - start));
                for (int i = 0; i < part.Length; i++)
                    BinaryPrimitives.WriteSingleLittleEndian(block.AsSpan(4 * i), part[i]);
                Bytes(block.AsSpan(0, 4 * part.Length));
            }
        }

        public byte[] Hash() => hash.GetHashAndReset();

        public void Dispose() => hash.Dispose();
    }

    /// <summary>Reads from a stream while hashing what it reads.</summary>
    private sealed class HashedReader(Stream stream) : IDisposable
    {
        private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly byte[] block = new byte[FloatBlock * 4];

        /// <summary>Counts bytes read without this reader into the hash.</summary>
        public void Hashed(ReadOnlySpan<byte> bytes) => hash.AppendData(bytes);

        public byte[] Bytes(int count)
        {
            var bytes = new byte[count];
            stream.ReadExactly(bytes);
            hash.AppendData(bytes);
            return bytes;
        }

        public float[] Floats(int count)
        {
            var values = new float[count];
            for (int start = 0; start < count; start += FloatBlock)
            {
                int part = Math.Min(FloatBlock, count - start);
                var bytes = block.AsSpan(0, 4 * part);
                stream.ReadExactly(bytes);
                hash.AppendData(bytes);
                for (int i = 0; i < part; i++)
                    values[start + i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]);
            }

            return values;
        }

        public byte[] Hash() => hash.GetHashAndReset();

        public void Dispose() => hash.Dispose();
    }

    /// <summary>Floats converted per read or write: 256 KiB at a time.</summary>
    private const int FloatBlock = 1 << 16;
}
