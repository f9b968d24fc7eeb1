using MnistGpu.Engine.Training;

namespace MnistGpu.Tests.Engine.Training;

public sealed class EpochOrderTests
{
    [Fact]
    public void An_epoch_order_is_a_permutation_that_depends_on_seed_and_epoch_alone()
    {
        int[] first = Order(seed: 1, epoch: 1);
        Assert.Equal(Enumerable.Range(0, 1_000), first.Order());
        Assert.NotEqual(Enumerable.Range(0, 1_000), first);
        Assert.Equal(first, Order(seed: 1, epoch: 1));
        Assert.NotEqual(first, Order(seed: 1, epoch: 2));
        Assert.NotEqual(first, Order(seed: 2, epoch: 1));
    }

    [Fact]
    public void Whatever_the_buffer_held_before_the_order_is_the_same()
    {
        int[] order = Enumerable.Repeat(-7, 1_000).ToArray();
        EpochOrder.Fill(order, 3, 4);
        Assert.Equal(Order(seed: 3, epoch: 4), order);
    }

    private static int[] Order(int seed, int epoch)
    {
        int[] order = new int[1_000];
        EpochOrder.Fill(order, seed, epoch);
        return order;
    }
}
