namespace SegHelpers.Data;

/// <summary>One rendered scene: the camera image, its KITTI label and its KITTI calibration numbers (see <see cref="KittiCalibration.Keys"/>).</summary>
/// <param name="Image">The camera image.</param>
/// <param name="Label">Its KITTI-coloured label.</param>
/// <param name="Calibration">The camera it was drawn with, as a KITTI calibration file holds it.</param>
/// <param name="RoadWidthAt">The road's width in metres at a distance z (metres) ahead of the camera, as rendered.</param>
public sealed record SyntheticScene(RgbImage Image, RgbImage Label, IReadOnlyDictionary<string, double[]> Calibration, Func<double, double> RoadWidthAt);

/// <summary>Settings for <see cref="SyntheticRoads"/>.</summary>
/// <param name="Count">Labelled training images, spread evenly over um, umm and uu.</param>
/// <param name="Seed">Same seed, same bytes.</param>
/// <param name="TestCount">Unlabelled test images; null means a quarter of <paramref name="Count"/> (at least 3).</param>
/// <param name="Height">Image height; null picks one of the real KITTI sizes per image.</param>
/// <param name="Width">Image width; null picks one of the real KITTI sizes per image.</param>
public sealed record SyntheticOptions(int Count = 40, int Seed = 1, int? TestCount = null, int? Height = null, int? Width = null);

/// <summary>
/// Road scenes written in the exact KITTI <c>data_road</c> layout and label colours, the embedded
/// default dataset. Scenes need learning rather than a colour threshold: a perspective road that
/// curves, asphalt close in colour to the pavements beside it, lane markings (um, umm), shadows across
/// the road, vehicles occluding it, textured buildings and vegetation, global lighting changes, and
/// don't-care (black) and road-outside-evaluation (blue) label regions. Each scene also gets a KITTI calibration file that
/// agrees with the road plane it renders, so the bird's-eye view works on it as on KITTI.
/// </summary>
public static class SyntheticRoads
{
    /// <summary>The image sizes found in KITTI Road (width, height), used when no size is given.</summary>
    public static readonly IReadOnlyList<(int Width, int Height)> KittiSizes =
        [(1242, 375), (1241, 376), (1238, 374), (1226, 370)];

    static readonly byte[] RoadColour = [255, 0, 255], NonRoadColour = [255, 0, 0], DontCareColour = [0, 0, 0], OutsideColour = [0, 0, 255];

    /// <summary>
    /// Writes <c>training/image_2</c>, <c>training/gt_image_2</c>, <c>testing/image_2</c> and both <c>calib/</c> folders under
    /// <paramref name="outDir"/>. Existing files of the same names are replaced atomically.
    /// </summary>
    public static void Write(string outDir, SyntheticOptions options, IProgress<int>? progress = null)
    {
        if (options.Count < 0 || options.TestCount < 0)
            throw new ArgumentOutOfRangeException(nameof(options), "counts must not be negative");
        if ((options.Height is null) != (options.Width is null) || options.Height < 16 || options.Width < 16)
            throw new ArgumentOutOfRangeException(nameof(options), "give both height and width, each at least 16");
        int testCount = options.TestCount ?? Math.Max(3, options.Count / 4);
        int done = 0;
        var jobs = Enumerable.Range(0, options.Count).Select(i => (Test: false, Index: i))
            .Concat(Enumerable.Range(0, testCount).Select(i => (Test: true, Index: i)))
            .ToList();
        Parallel.ForEach(jobs, job =>
        {
            var category = (RoadCategory)(job.Index % 3);
            int number = job.Index / 3;
            string prefix = category.ToString().ToLowerInvariant();
            int sceneSeed = unchecked(options.Seed * 1_000_003 + job.Index * 2 + (job.Test ? 1 : 0));
            var scene = Render(sceneSeed, category, options.Width, options.Height);
            string split = job.Test ? "testing" : "training";
            ImageFile.WritePng(Path.Combine(outDir, split, "image_2", $"{prefix}_{number:D6}.png"), scene.Image);
            if (!job.Test)
                ImageFile.WritePng(Path.Combine(outDir, split, "gt_image_2", $"{prefix}_road_{number:D6}.png"), scene.Label);
            Directory.CreateDirectory(Path.Combine(outDir, split, "calib"));
            KittiCalibration.Create(Path.Combine(outDir, split, "calib", $"{prefix}_{number:D6}.txt"), scene.Calibration).Write();
            progress?.Report(Interlocked.Increment(ref done));
        });
    }

    /// <summary>The camera's height above the road in metres, KITTI's.</summary>
    public const double CameraHeight = 1.65;

    /// <summary>
    /// One scene, its KITTI-coloured label and its calibration; <paramref name="width"/>/<paramref name="height"/> null picks a
    /// KITTI size.
    /// </summary>
    public static SyntheticScene Render(int seed, RoadCategory category, int? width = null, int? height = null)
    {
        var rng = new Random(seed);
        var (w, h) = width is int fw && height is int fh ? (fw, fh) : KittiSizes[rng.Next(KittiSizes.Count)];
        var scene = Scene.Random(rng, category, w, h);
        var image = new byte[w * h * 3];
        var label = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                scene.Shade(x, y, image.AsSpan(3 * (y * w + x), 3), label.AsSpan(3 * (y * w + x), 3));
        double f = Focal(w);
        return new SyntheticScene(new RgbImage(w, h, image), new RgbImage(w, h, label), Calibration(scene),
            z => 2 * scene.HalfWidth(f * CameraHeight / (z * (h - scene.Horizon))) * z / f);
    }

    /// <summary>
    /// The camera the renderer draws with: a pinhole looking along the road, <see cref="CameraHeight"/> above it, its focal
    /// length KITTI's scaled to the image width, its horizon at the scene's horizon row. A road point (x, 0, z) lands at
    /// row horizon + f·h/z, as the renderer's road rows do (their road width in pixels grows linearly below the horizon, so the
    /// road keeps its width in metres, but for a margin of 0.4 % of the image width that keeps the far road visible). The
    /// principal point is given in the devkit's 1-based convention, where pixel index i spans [i + 1, i + 2): the renderer
    /// samples pixel i at its own coordinate i, so it sits at i + 1.5 there.
    /// </summary>
    static Dictionary<string, double[]> Calibration(Scene scene)
    {
        double f = Focal(scene.W), cu = (scene.W - 1) / 2.0 + 1.5, cv = scene.Horizon + 1.5;
        double[] projection = [f, 0, cu, 0, 0, f, cv, 0, 0, 0, 1, 0];
        return new Dictionary<string, double[]>
        {
            ["P0"] = projection, ["P1"] = projection, ["P2"] = projection, ["P3"] = projection,
            ["R0_rect"] = [1, 0, 0, 0, 1, 0, 0, 0, 1],
            // no laser scanner here: KITTI's usual mounting, so that the file has every key
            ["Tr_velo_to_cam"] = [0, -1, 0, 0, 0, 0, -1, -0.08, 1, 0, 0, -0.27],
            ["Tr_imu_to_velo"] = [1, 0, 0, -0.81, 0, 1, 0, 0.32, 0, 0, 1, -0.8],
            ["Tr_cam_to_road"] = [1, 0, 0, 0, 0, 1, 0, -CameraHeight, 0, 0, 1, 0],
        };
    }

    static double Focal(int width) => 721.5377 * width / 1242;

    sealed class Scene
    {
        public int W, H, Seed;
        public double Horizon, HalfWidthBottom, CentreBottom, Curve, Sidewalk, Light, AsphaltGrey, PavementGrey;
        public double[] Tint = new double[3];
        public int Lanes;
        public bool Grass, HoodDontCare, FarOutside;
        public double[] Skyline = [];
        public (double T0, double T1, double Wave)[] Shadows = [];
        public Vehicle[] Vehicles = [];

        public static Scene Random(Random rng, RoadCategory category, int w, int h)
        {
            var s = new Scene { W = w, H = h, Seed = rng.Next() };
            s.Horizon = h * (0.36 + 0.1 * rng.NextDouble());
            s.HalfWidthBottom = w * (category == RoadCategory.Umm ? 0.42 + 0.15 * rng.NextDouble() : 0.28 + 0.14 * rng.NextDouble());
            s.CentreBottom = w * (0.42 + 0.16 * rng.NextDouble());
            s.Curve = w * (rng.NextDouble() - 0.5) * 0.5;
            s.Sidewalk = 0.12 + 0.2 * rng.NextDouble();
            s.Light = 0.7 + 0.5 * rng.NextDouble();
            s.AsphaltGrey = 75 + 45 * rng.NextDouble();
            s.PavementGrey = s.AsphaltGrey + (rng.NextDouble() < 0.5 ? -1 : 1) * (12 + 25 * rng.NextDouble());
            for (int c = 0; c < 3; c++)
                s.Tint[c] = 0.92 + 0.16 * rng.NextDouble();
            s.Lanes = category switch { RoadCategory.Um => 2, RoadCategory.Umm => 3 + rng.Next(2), _ => 0 };
            s.Grass = category == RoadCategory.Uu || rng.NextDouble() < 0.3;
            s.HoodDontCare = rng.NextDouble() < 0.5;
            s.FarOutside = rng.NextDouble() < 0.35;
            s.Skyline = new double[16];
            for (int i = 0; i < s.Skyline.Length; i++)
                s.Skyline[i] = s.Horizon * (0.1 + 0.8 * rng.NextDouble());
            s.Shadows = Enumerable.Range(0, rng.Next(1, 4))
                .Select(_ => { double t0 = 0.1 + 0.8 * rng.NextDouble(); return (t0, t0 + 0.04 + 0.12 * rng.NextDouble(), rng.NextDouble() * 6); })
                .ToArray();
            s.Vehicles = Enumerable.Range(0, rng.Next(0, 4))
                .Select(_ => new Vehicle(0.15 + 0.6 * rng.NextDouble(), -0.75 + 1.5 * rng.NextDouble(), rng.Next(256), rng.Next(256), rng.Next(256)))
                .OrderBy(v => v.Depth)
                .ToArray();
            return s;
        }

        double Depth(double y) => Math.Clamp((y - Horizon) / (H - Horizon), 0, 1);

        double Centre(double t) => CentreBottom + Curve * (1 - t) * (1 - t);

        public double HalfWidth(double t) => HalfWidthBottom * t + 0.004 * W;

        public void Shade(int x, int y, Span<byte> rgb, Span<byte> label)
        {
            double r, g, b;
            byte[] cls = NonRoadColour;
            double t = Depth(y);
            if (y < Horizon + 1)
            {
                double sky = Skyline[Math.Min(Skyline.Length - 1, x * Skyline.Length / W)];
                if (y < sky)
                {
                    double k = y / Horizon;
                    (r, g, b) = (150 + 60 * k, 180 + 40 * k, 230 - 10 * k);
                }
                else
                    (r, g, b) = Facade(x, y);
            }
            else
            {
                double d = (x - Centre(t)) / HalfWidth(t);
                double n = Noise(x / 3.0, y / 3.0, 11) * 18 + Noise(x / 17.0, y / 9.0, 12) * 14;
                if (Math.Abs(d) < 1)
                {
                    double grey = AsphaltGrey + n;
                    (r, g, b) = (grey, grey, grey * 1.03);
                    if (IsMarking(d, t))
                        (r, g, b) = (225 + n, 225 + n, 210 + n);
                    cls = FarOutside && t < 0.07 ? OutsideColour : RoadColour;
                }
                else if (Math.Abs(d) < 1 + Sidewalk && !Grass)
                {
                    double grey = PavementGrey + n * 0.8 + (Math.Abs(d) < 1.03 ? 35 : 0);
                    bool joint = Frac(Math.Abs(d) * 9) < 0.06 || Frac(8 / (t + 0.05)) < 0.05;
                    (r, g, b) = (grey - (joint ? 25 : 0), grey - (joint ? 25 : 0), grey - (joint ? 22 : 0));
                }
                else if (Math.Abs(d) < 1 + Sidewalk * 2.5 || Grass)
                {
                    double v = Noise(x / 4.0, y / 4.0, 13);
                    (r, g, b) = (60 + 40 * v, 95 + 60 * v, 45 + 30 * v);
                }
                else
                    (r, g, b) = Facade(x, y);
                if (Math.Abs(d) < 1 + Sidewalk * 1.5 && InShadow(t, d))
                    (r, g, b) = (r * 0.45, g * 0.45, b * 0.5);
                if (HoodDontCare && y >= H - Math.Max(2, H / 40))
                    cls = DontCareColour;
            }

            foreach (var v in Vehicles)
                if (v.Covers(this, x, y, out var colour))
                {
                    (r, g, b) = colour;
                    cls = NonRoadColour;
                }

            rgb[0] = Byte(r * Light * Tint[0]);
            rgb[1] = Byte(g * Light * Tint[1]);
            rgb[2] = Byte(b * Light * Tint[2]);
            cls.CopyTo(label);
        }

        bool IsMarking(double d, double t)
        {
            if (Lanes == 0)
                return false;
            double width = 0.025;
            if (Math.Abs(Math.Abs(d) - 0.92) < width)
                return true;
            for (int i = 1; i < Lanes; i++)
            {
                double lane = -1 + 2.0 * i / Lanes;
                if (Math.Abs(d - lane) < width && Frac(6 / (t + 0.08)) < 0.5)
                    return true;
            }
            return false;
        }

        bool InShadow(double t, double d)
        {
            foreach (var (t0, t1, wave) in Shadows)
            {
                double wobble = 0.02 * Math.Sin(d * 5 + wave);
                if (t > t0 + wobble && t < t1 + wobble)
                    return true;
            }
            return false;
        }

        (double, double, double) Facade(int x, int y)
        {
            int block = (int)(x / (W / 12.0));
            double hue = Hash(block, 0, 21);
            double baseR = 120 + 90 * hue, baseG = 100 + 70 * Hash(block, 1, 21), baseB = 90 + 60 * Hash(block, 2, 21);
            bool window = Frac(x / (W / 70.0)) < 0.45 && Frac(y / (H / 22.0)) < 0.5;
            double n = Noise(x / 2.0, y / 2.0, 22) * 20;
            return window ? (40 + n, 50 + n, 65 + n) : (baseR + n, baseG + n, baseB + n);
        }

        double Noise(double x, double y, int salt)
        {
            int xi = (int)Math.Floor(x), yi = (int)Math.Floor(y);
            double fx = x - xi, fy = y - yi;
            double a = Hash(xi, yi, salt), b = Hash(xi + 1, yi, salt), c = Hash(xi, yi + 1, salt), d = Hash(xi + 1, yi + 1, salt);
            double top = a + (b - a) * fx, bottom = c + (d - c) * fx;
            return top + (bottom - top) * fy - 0.5;
        }

        double Hash(int x, int y, int salt)
        {
            uint h = (uint)(x * 374761393 + y * 668265263 + salt * 2147483647 + Seed * 1274126177);
            h = (h ^ (h >> 13)) * 1274126177u;
            h ^= h >> 16;
            return (h & 0xffffff) / (double)0x1000000;
        }
    }

    readonly record struct Vehicle(double Depth, double Lateral, int R, int G, int B)
    {
        public bool Covers(Scene s, int x, int y, out (double, double, double) colour)
        {
            colour = default;
            double bottom = s.Horizon + Depth * (s.H - s.Horizon);
            double half = s.HalfWidthBottom * Depth * 0.32 + 2;
            double centre = s.CentreBottom + s.Curve * (1 - Depth) * (1 - Depth) + Lateral * (s.HalfWidthBottom * Depth);
            double height = half * 1.5;
            if (y > bottom || y < bottom - height || Math.Abs(x - centre) > half)
                return false;
            double v = (bottom - y) / height, u = (x - centre) / half;
            if (v < 0.18 && Math.Abs(Math.Abs(u) - 0.65) < 0.22)
                colour = (20, 20, 22);
            else if (v > 0.55 && v < 0.85 && Math.Abs(u) < 0.8)
                colour = (50, 60, 75);
            else
                colour = (R, G, B);
            return true;
        }
    }

    static double Frac(double v) => v - Math.Floor(v);

    static byte Byte(double v) => (byte)Math.Clamp((int)Math.Round(v), 0, 255);
}
