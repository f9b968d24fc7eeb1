namespace MnistGpu.Engine.IO;

/// <summary>
/// The files one command reads and writes, compared before any work so that no output replaces
/// one of the command's inputs or another of its outputs. Two paths name the same file when
/// <c>stat</c> gives both the same device and inode (through symbolic and hard links and "..");
/// a file not there yet is named by its canonical path. A folder of outputs (--previews) covers
/// the files it writes and the subfolder it owns. Devices and FIFOs are written directly, never
/// replaced, so they may appear more than once.
/// </summary>
public sealed class CommandFiles
{
    private readonly List<Place> inputs = [];
    private readonly List<Place> outputs = [];
    private readonly List<Place> ownedFolders = [];

    /// <param name="role">How the user gave it, for messages: "--model".</param>
    public CommandFiles Input(string role, string? path)
    {
        if (path is not null)
            inputs.Add(Place.Of(role, path));
        return this;
    }

    public CommandFiles Inputs(string role, IEnumerable<string> paths)
    {
        foreach (string path in paths)
            Input(role, path);
        return this;
    }

    public CommandFiles Output(string role, string? path)
    {
        if (path is not null && Place.Of(role, path) is { Written: true } place)
            outputs.Add(place);
        return this;
    }

    /// <summary>A folder the command fills with <paramref name="files"/> and whose <paramref name="ownedSubfolders"/> it rewrites whole.</summary>
    public CommandFiles OutputFolder(string role, string? folder, IEnumerable<string> files, IEnumerable<string> ownedSubfolders)
    {
        if (folder is null)
            return this;
        foreach (string file in files)
            Output(role, Path.Combine(folder, file));
        foreach (string subfolder in ownedSubfolders)
            ownedFolders.Add(Place.Of(role, Path.Combine(folder, subfolder)));
        return this;
    }

    /// <summary>Whether the two paths name the same file, or the same place for one not there yet.</summary>
    public static bool SameFile(string first, string second) => Place.Of("", first).IsSameFile(Place.Of("", second));

    /// <exception cref="UserInputException">An output is an input, another output, or lies in a folder another output rewrites.</exception>
    public void Check()
    {
        for (int i = 0; i < outputs.Count; i++)
        {
            var output = outputs[i];
            foreach (var input in inputs)
            {
                if (output.IsSameFile(input))
                    throw new UserInputException($"{output}: is the same file as {input}, which this command reads; an output may not replace an input");
            }

            foreach (var earlier in outputs.Take(i))
            {
                if (output.IsSameFile(earlier))
                    throw new UserInputException($"{output}: is the same file as {earlier}; give each output its own file");
            }
        }

        foreach (var folder in ownedFolders)
        {
            foreach (var file in inputs.Concat(outputs.Where(o => o.Role != folder.Role)))
            {
                if (file.IsInside(folder))
                    throw new UserInputException($"{file}: lies in {folder.Path}, which {folder.Role} rewrites; give a path outside it");
            }
        }
    }

    /// <summary>A path as given, with the identity of what it names.</summary>
    private sealed record Place(string Role, string Path, FileStatus Status, string Canonical)
    {
        /// <summary>Whether writing it replaces a file, as opposed to writing into a device or a FIFO.</summary>
        public bool Written => Status.Kind is not (FileKind.CharacterDevice or FileKind.Fifo);

        public static Place Of(string role, string path) => new(role, path, FileKinds.Status(path), CanonicalOf(path));

        public bool IsSameFile(Place other) => Status.IsSameFile(other.Status) || string.Equals(Canonical, other.Canonical, Comparison);

        public bool IsInside(Place folder) => Canonical.StartsWith(folder.Canonical + System.IO.Path.DirectorySeparatorChar, Comparison);

        public override string ToString() => $"{Role} {Path}";

        private static StringComparison Comparison => OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

        /// <summary>
        /// The absolute path with every link, "." and ".." resolved; for a path not there yet, or a
        /// link to nothing, the canonical folder it will be created in and its name.
        /// </summary>
        private static string CanonicalOf(string path)
        {
            string full = System.IO.Path.GetFullPath(path);
            if (OperatingSystem.IsWindows())
                return full;
            if (NativeFiles.Canonical(full) is string existing)
                return existing;
            try
            {
                if (new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true) is { } target)
                    full = target.FullName;
            }
            catch (IOException)
            {
                // A link loop: the path itself is all there is to compare.
            }

            string folder = System.IO.Path.GetDirectoryName(full) ?? full;
            return System.IO.Path.Join(NativeFiles.Canonical(folder) ?? folder, System.IO.Path.GetFileName(full));
        }
    }
}
