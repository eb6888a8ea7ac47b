using System.Text.Json.Nodes;

namespace SegHelpers.Tests.Notebooks;

/// <summary>Writes small notebooks for tests and checks executed ones against nbformat 4.5's required structure.</summary>
static class NotebookFiles
{
    public static string Write(string path, params (string Type, string Source, string[] Tags)[] cells)
    {
        var array = new JsonArray();
        int i = 0;
        foreach (var (type, source, tags) in cells)
        {
            var cell = new JsonObject
            {
                ["cell_type"] = type,
                ["id"] = $"cell{i++}",
                ["metadata"] = new JsonObject { ["tags"] = new JsonArray([.. tags.Select(t => (JsonNode)t)]) },
                ["source"] = source,
            };
            if (type == "code")
            {
                cell["execution_count"] = null;
                cell["outputs"] = new JsonArray();
            }
            array.Add(cell);
        }
        var notebook = new JsonObject
        {
            ["cells"] = array,
            ["metadata"] = new JsonObject { ["kernelspec"] = new JsonObject { ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = ".net-csharp" } },
            ["nbformat"] = 4,
            ["nbformat_minor"] = 5,
        };
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, notebook.ToJsonString());
        return path;
    }

    public static (string, string, string[]) Code(string source, params string[] tags) => ("code", source, tags);

    public static (string, string, string[]) Markdown(string source) => ("markdown", source, []);

    public static JsonArray Cells(string executed) => (JsonArray)JsonNode.Parse(File.ReadAllText(executed))!["cells"]!;

    public static JsonArray Outputs(JsonArray cells, int index) => (JsonArray)cells[index]!["outputs"]!;

    /// <summary>An nbformat multi-line string (one string, or a list of lines) as one string.</summary>
    public static string Text(JsonNode? node) => node switch
    {
        JsonArray lines => string.Concat(lines.Select(l => l!.GetValue<string>())),
        JsonValue text => text.GetValue<string>(),
        _ => throw new ArgumentException($"not a string or a list of strings: {node?.ToJsonString()}"),
    };

    /// <summary>A code cell that references the SegHelpers build the tests run against, as the product notebooks do.</summary>
    public static (string, string, string[]) ReferenceSegHelpers() =>
        Code($"#r \"{Path.Combine(AppContext.BaseDirectory, "TorchSharp.dll")}\"\n#r \"{Path.Combine(AppContext.BaseDirectory, "SkiaSharp.dll")}\"\n#r \"{Path.Combine(AppContext.BaseDirectory, "SegHelpers.dll")}\"");

    /// <summary>Asserts the structure nbformat 4.5's schema requires of the notebook, its cells and its outputs.</summary>
    public static void AssertValid(string path)
    {
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        Assert.Equal(4, root["nbformat"]!.GetValue<int>());
        Assert.True(root["nbformat_minor"]!.GetValue<int>() >= 5);
        Assert.IsType<JsonObject>(root["metadata"]);
        var ids = new HashSet<string>();
        foreach (var cell in root["cells"]!.AsArray().Select(c => c!.AsObject()))
        {
            Assert.True(ids.Add(cell["id"]!.GetValue<string>()), "cell ids are unique");
            Assert.Matches("^[a-zA-Z0-9-_]{1,64}$", cell["id"]!.GetValue<string>());
            Assert.IsType<JsonObject>(cell["metadata"]);
            Assert.NotNull(cell["source"]);
            string type = cell["cell_type"]!.GetValue<string>();
            if (type != "code")
            {
                Assert.False(cell.ContainsKey("outputs"));
                continue;
            }
            Assert.True(cell.ContainsKey("execution_count"));
            foreach (var output in cell["outputs"]!.AsArray().Select(o => o!.AsObject()))
            {
                switch (output["output_type"]!.GetValue<string>())
                {
                    case "stream":
                        Assert.Contains(output["name"]!.GetValue<string>(), new[] { "stdout", "stderr" });
                        Assert.NotNull(output["text"]);
                        break;
                    case "display_data":
                        Assert.IsType<JsonObject>(output["data"]);
                        Assert.IsType<JsonObject>(output["metadata"]);
                        break;
                    case "execute_result":
                        Assert.IsType<JsonObject>(output["data"]);
                        Assert.IsType<JsonObject>(output["metadata"]);
                        Assert.Equal(cell["execution_count"]!.GetValue<int>(), output["execution_count"]!.GetValue<int>());
                        break;
                    case "error":
                        Assert.NotNull(output["ename"]);
                        Assert.NotNull(output["evalue"]);
                        Assert.IsType<JsonArray>(output["traceback"]);
                        break;
                    default:
                        Assert.Fail($"unknown output_type {output["output_type"]}");
                        break;
                }
            }
        }
    }
}
