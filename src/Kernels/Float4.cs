using System.Runtime.CompilerServices;

namespace MnistGpu.Kernels;

/// <summary>
/// Four floats held in registers: one row of a matrix-multiply register tile. A plain struct of
/// fields compiles on every ILGPU backend (System.Numerics vectors do not).
/// </summary>
internal struct Float4
{
    public float X, Y, Z, W;

    public Float4(float x, float y, float z, float w)
    {
        X = x;
        Y = y;
        Z = z;
        W = w;
    }

    /// <summary>acc += s · v, the inner step of a register-tiled product.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AddScaled(float s, Float4 v)
    {
        X += s * v.X;
        Y += s * v.Y;
        Z += s * v.Z;
        W += s * v.W;
    }

    /// <summary>acc += v.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(Float4 v)
    {
        X += v.X;
        Y += v.Y;
        Z += v.Z;
        W += v.W;
    }

    public readonly float this[int i]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => i switch
        {
            0 => X,
            1 => Y,
            2 => Z,
            _ => W,
        };
    }
}
