namespace MnistGpu.Engine.Training;

/// <summary>A named network and the recipe it trains with, as <c>--network NAME</c> gives it.</summary>
/// <param name="Name">What --network takes, e.g. "keras-convnet".</param>
/// <param name="Description">What it is, for help: its source and layers.</param>
/// <param name="Settings">Its layers, batch size, optimizer, learning-rate schedule and epochs; options given beside it override all but the layers.</param>
public sealed record NetworkPreset(string Name, string Description, TrainingSettings Settings)
{
    /// <summary>Whether its layers include a convolution (verify's convnet checks).</summary>
    public bool Convolutional => Settings.Layers.Any(layer => layer.Kind is Model.Layers.Conv2D);
}

/// <summary>Every named network, in the order help lists them.</summary>
public static class NetworkPresets
{
    public static NetworkPreset Mlp { get; } = new("mlp", "Keras' MNIST example: 784-512-10, RMSprop, batch 128, 5 epochs", new TrainingSettings());

    public static NetworkPreset Convnet { get; } = new("convnet", "the Keras book's: conv3x3:32,maxpool,conv3x3:64,maxpool,conv3x3:64,flatten,64, RMSprop, batch 64, 5 epochs", TrainingSettings.Convnet);

    /// <summary>
    /// keras.io's "Simple MNIST convnet": Conv2D(32, 3×3, ReLU), MaxPooling2D, Conv2D(64, 3×3,
    /// ReLU), MaxPooling2D, Flatten, Dropout(0.5), then the dense softmax layer; Adam (lr 1e-3),
    /// batch 128, 15 epochs. keras.io holds out 10 % of the training digits for validation and
    /// reports about 99.2 %; here it trains on all 60,000.
    /// </summary>
    public static NetworkPreset KerasConvnet { get; } = new(
        "keras-convnet",
        "keras.io's Simple MNIST convnet: conv3x3:32,maxpool,conv3x3:64,maxpool,flatten,dropout:0.5, Adam, batch 128, 15 epochs",
        new TrainingSettings
        {
            Layers = Model.Layers.LayerSpec.ParseList("conv3x3:32,maxpool,conv3x3:64,maxpool,flatten,dropout:0.5"),
            Optimizer = Model.OptimizerSettings.Adam,
            BatchSize = 128,
            Epochs = 15,
        });

    /// <summary>
    /// A BatchNormalization convnet: two pairs of 3×3 convolutions (32, then 64 filters), each
    /// convolution linear and followed by BatchNormalization with a ReLU (the pre-activation form),
    /// a max pooling after each pair, Flatten, Dense(256, ReLU), Dropout(0.4), then the dense
    /// softmax layer; Adam (lr 1e-3) with a cosine schedule over the run (without it the last
    /// epoch's noise between seeds, ±0.15 points, was as large as what it gains), batch 128, 5 epochs.
    /// </summary>
    public static NetworkPreset BnConvnet { get; } = new(
        "bn-convnet",
        "conv3x3:32:linear,batchnorm:relu twice, maxpool, conv3x3:64:linear,batchnorm:relu twice, maxpool, flatten, 256, dropout:0.4, Adam with a cosine learning rate, batch 128, 5 epochs",
        new TrainingSettings
        {
            Layers = Model.Layers.LayerSpec.ParseList("conv3x3:32:linear,batchnorm:relu,conv3x3:32:linear,batchnorm:relu,maxpool,conv3x3:64:linear,batchnorm:relu,conv3x3:64:linear,batchnorm:relu,maxpool,flatten,256,dropout:0.4"),
            Optimizer = Model.OptimizerSettings.Adam,
            Schedule = LearningRateSchedule.Parse("cosine"),
            BatchSize = 128,
            Epochs = 5,
        });

    /// <summary>
    /// The fastest published recipe to 99 % in one epoch (tuomaso/train_mnist_fast): Conv2D(24, 5×5),
    /// MaxPool, ReLU, Conv2D(32, 3×3), MaxPool, ReLU, Flatten, Dense(256, ReLU), then the dense
    /// softmax layer (a ReLU commutes with a max pooling, so each convolution's ReLU comes first,
    /// fused with its pooling); PyTorch's default initialisation (fan-in uniform), standardised
    /// inputs, Adam (β 0.7, 0.9, ε 1e-8) with a one-cycle learning rate of at most 0.01, batch 256, one epoch.
    /// </summary>
    public static NetworkPreset Speedrun { get; } = new(
        "speedrun",
        "tuomaso/train_mnist_fast's one-epoch recipe: conv5x5:24,maxpool,conv3x3:32,maxpool,flatten,256, fan-in-uniform initializer, standardized inputs, Adam (lr 0.01, beta1 0.7, beta2 0.9, epsilon 1e-8) with a one-cycle learning rate, batch 256, 1 epoch",
        new TrainingSettings
        {
            Layers = Model.Layers.LayerSpec.ParseList("conv5x5:24,maxpool,conv3x3:32,maxpool,flatten,256"),
            Optimizer = Model.OptimizerSettings.Adam with { LearningRate = 0.01f, Beta1 = 0.7f, Beta2 = 0.9f, Epsilon = 1e-8f },
            Schedule = LearningRateSchedule.Parse("one-cycle"),
            Initializer = Model.Layers.Initializer.FanInUniform,
            Standardize = true,
            BatchSize = 256,
            Epochs = 1,
        });

    public static IReadOnlyList<NetworkPreset> All { get; } = [Mlp, Convnet, KerasConvnet, BnConvnet, Speedrun];

    public static NetworkPreset? Find(string name) => All.FirstOrDefault(preset => preset.Name == name);
}
