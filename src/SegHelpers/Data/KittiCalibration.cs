using System.Globalization;
using System.Text;

namespace SegHelpers.Data;

/// <summary>
/// A KITTI Road calibration file (<c>training/calib/um_000000.txt</c>): <c>KEY: numbers</c> lines holding the camera
/// projections <c>P0</c>–<c>P3</c> (3×4), the rectification <c>R0_rect</c> (3×3), <c>Tr_velo_to_cam</c>,
/// <c>Tr_imu_to_velo</c> and the per-image road plane <c>Tr_cam_to_road</c> (3×4), all row-major.
/// </summary>
public sealed class KittiCalibration
{
    /// <summary>Every key a KITTI Road calibration file holds, with its count of numbers.</summary>
    public static readonly IReadOnlyDictionary<string, int> Keys = new Dictionary<string, int>
    {
        ["P0"] = 12, ["P1"] = 12, ["P2"] = 12, ["P3"] = 12, ["R0_rect"] = 9,
        ["Tr_velo_to_cam"] = 12, ["Tr_imu_to_velo"] = 12, ["Tr_cam_to_road"] = 12,
    };

    /// <summary>The keys the bird's-eye view needs; a file without one of them is rejected.</summary>
    public static readonly IReadOnlyList<string> Required = ["P2", "R0_rect", "Tr_cam_to_road"];

    readonly Dictionary<string, double[]> _values;

    KittiCalibration(string path, Dictionary<string, double[]> values)
    {
        Path = path;
        _values = values;
    }

    /// <summary>The file it was read from (or will be written to).</summary>
    public string Path { get; }

    /// <summary>The numbers under <paramref name="key"/>, row-major.</summary>
    public IReadOnlyList<double> this[string key] =>
        _values.TryGetValue(key, out var v) ? v : throw new BadInputException(Path, $"has no {key} line", "use the calibration file KITTI ships for this image");

    /// <summary>
    /// Reads a calibration file the way the devkit's <c>readKittiCalib</c> does (blank lines and <c>#</c> comments skipped, one
    /// colon per line). A missing file, a line without a colon, an unparsable number, a known key with the wrong count of
    /// numbers or a missing <see cref="Required"/> key is a <see cref="BadInputException"/> naming the file and the key.
    /// </summary>
    public static KittiCalibration Read(string path)
    {
        if (!File.Exists(path))
            throw new BadInputException(path, "calibration file not found",
                "KITTI ships one per image in training/calib and testing/calib (they come in data_road.zip, the base kit); pass the folder that holds them");
        var values = new Dictionary<string, double[]>(StringComparer.Ordinal);
        int lineNumber = 0;
        foreach (string raw in File.ReadLines(path))
        {
            lineNumber++;
            string line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
                continue;
            var parts = line.Split(':');
            if (parts.Length != 2)
                throw new BadInputException(path, $"line {lineNumber} is not 'KEY: numbers'", "restore the file from the KITTI archive");
            string key = parts[0].Trim();
            var numbers = new List<double>();
            foreach (string token in parts[1].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
                numbers.Add(double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)
                    ? d
                    : throw new BadInputException(path, $"{key} holds '{token}', which is not a number", "restore the file from the KITTI archive"));
            if (Keys.TryGetValue(key, out int expected) && numbers.Count != expected)
                throw new BadInputException(path, $"{key} has {numbers.Count} numbers, not {expected}", "restore the file from the KITTI archive");
            values[key] = [.. numbers];
        }
        foreach (string key in Required)
            if (!values.ContainsKey(key))
                throw new BadInputException(path, $"has no {key} line", "use the calibration file KITTI ships for this image (it holds P0–P3, R0_rect, Tr_velo_to_cam, Tr_imu_to_velo and Tr_cam_to_road)");
        return new KittiCalibration(path, values);
    }

    /// <summary>A calibration from its numbers (every key of <see cref="Keys"/>), to be written with <see cref="Write"/>.</summary>
    public static KittiCalibration Create(string path, IReadOnlyDictionary<string, double[]> values)
    {
        foreach (var (key, count) in Keys)
            if (!values.TryGetValue(key, out var v) || v.Length != count)
                throw new ArgumentException($"{key} needs {count} numbers", nameof(values));
        return new KittiCalibration(path, values.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray(), StringComparer.Ordinal));
    }

    /// <summary>Writes the file in KITTI's layout, atomically.</summary>
    public void Write()
    {
        var text = new StringBuilder();
        foreach (string key in Keys.Keys.Where(_values.ContainsKey))
            text.Append(key).Append(": ").AppendJoin(' ', _values[key].Select(v => v.ToString("0.000000000000e+00", CultureInfo.InvariantCulture))).Append('\n');
        AtomicFile.WriteText(Path, text.ToString());
    }

    /// <summary>
    /// The calibration file for an image or result file, as the devkit's <c>transform2BEV</c> finds it: <c>NAME.txt</c> in
    /// <paramref name="folder"/>, or, for a three-part name like <c>um_road_000000.png</c>, the name without its middle tag
    /// (<c>um_000000.txt</c>). Returns the first candidate that exists, else null.
    /// </summary>
    public static string? Find(string folder, string fileName) =>
        Names(fileName).Select(name => System.IO.Path.Combine(folder, name)).FirstOrDefault(File.Exists);

    /// <summary>The calibration file names the devkit tries for <paramref name="fileName"/>, in order; the last is KITTI's own.</summary>
    public static IReadOnlyList<string> Names(string fileName)
    {
        string key = System.IO.Path.GetFileName(fileName).Split('.')[0];
        var tags = key.Split('_');
        return tags.Length == 3 ? [key + ".txt", $"{tags[0]}_{tags[2]}.txt"] : [key + ".txt"];
    }

    /// <summary>
    /// The 3×3 homography from road-plane coordinates (x, z, 1), in metres with the road at y = 0, to image coordinates
    /// (u, v, w): the columns 0, 2 and 3 of <c>P2 · R0 · inverse(Tr_cam_to_road)</c>, R0 and Tr_cam_to_road made 4×4
    /// with a 1 in the corner. The image coordinates are the devkit's, 1-based.
    /// </summary>
    public double[,] RoadToImage()
    {
        var p2 = this["P2"];
        var r0 = this["R0_rect"];
        var road = this["Tr_cam_to_road"];
        var rect = new double[4, 4];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                rect[i, j] = r0[3 * i + j];
        rect[3, 3] = 1;
        var camToRoad = new double[4, 4];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
                camToRoad[i, j] = road[4 * i + j];
        camToRoad[3, 3] = 1;
        var roadToCam = Invert(camToRoad, Path);

        var projection = new double[3, 4];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
            {
                double sum = 0;
                for (int k = 0; k < 4; k++)
                    sum += p2[4 * i + k] * rect[k, j];
                projection[i, j] = sum;
            }
        var full = new double[3, 4];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
            {
                double sum = 0;
                for (int k = 0; k < 4; k++)
                    sum += projection[i, k] * roadToCam[k, j];
                full[i, j] = sum;
            }
        var h = new double[3, 3];
        int[] columns = [0, 2, 3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                h[i, j] = full[i, columns[j]];
        return h;
    }

    /// <summary>Gauss–Jordan inversion with partial pivoting; a singular matrix is an error naming the file.</summary>
    static double[,] Invert(double[,] matrix, string path)
    {
        int n = matrix.GetLength(0);
        var a = (double[,])matrix.Clone();
        var inverse = new double[n, n];
        for (int i = 0; i < n; i++)
            inverse[i, i] = 1;
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int row = col + 1; row < n; row++)
                if (Math.Abs(a[row, col]) > Math.Abs(a[pivot, col]))
                    pivot = row;
            if (Math.Abs(a[pivot, col]) < 1e-12)
                throw new BadInputException(path, "Tr_cam_to_road cannot be inverted", "restore the file from the KITTI archive");
            for (int j = 0; j < n; j++)
            {
                (a[col, j], a[pivot, j]) = (a[pivot, j], a[col, j]);
                (inverse[col, j], inverse[pivot, j]) = (inverse[pivot, j], inverse[col, j]);
            }
            double scale = a[col, col];
            for (int j = 0; j < n; j++)
            {
                a[col, j] /= scale;
                inverse[col, j] /= scale;
            }
            for (int row = 0; row < n; row++)
            {
                if (row == col || a[row, col] == 0)
                    continue;
                double factor = a[row, col];
                for (int j = 0; j < n; j++)
                {
                    a[row, j] -= factor * a[col, j];
                    inverse[row, j] -= factor * inverse[col, j];
                }
            }
        }
        return inverse;
    }
}
