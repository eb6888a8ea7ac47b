using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.DotNet.Interactive.Documents;
using Microsoft.DotNet.Interactive.Documents.Jupyter;
using SegHelpers;

namespace SegNotebooks;

/// <summary>
/// Reads and writes .ipynb files with the kernel's own Microsoft.DotNet.Interactive.Documents, as a C# notebook
/// (<c>csharp</c>, also called <c>c#</c> and <c>C#</c>), with clear errors for files that are not notebooks.
/// </summary>
public static class NotebookFile
{
    /// <summary>The kernel names a cell may carry.</summary>
    public static KernelInfoCollection Kernels()
    {
        var kernels = new KernelInfoCollection { new KernelInfo("csharp", "C#", ["c#", "C#", "cs"]) };
        kernels.DefaultKernelName = "csharp";
        return kernels;
    }

    /// <summary>The notebook at <paramref name="path"/>.</summary>
    public static InteractiveDocument Load(string path)
    {
        if (!File.Exists(path))
            throw new BadInputException(path, "not found", "pass the path of an .ipynb notebook");
        string json = File.ReadAllText(path);
        var raw = new List<int>();
        try
        {
            using var parsed = JsonDocument.Parse(json);
            var root = parsed.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("nbformat", out var format) || format.ValueKind != JsonValueKind.Number
                || format.GetInt32() != 4 || !root.TryGetProperty("cells", out var cells) || cells.ValueKind != JsonValueKind.Array)
                throw new BadInputException(path, "is not an nbformat 4 notebook (needs \"nbformat\": 4 and a \"cells\" list)", "save it from Jupyter or VS Code as .ipynb");
            int index = 0;
            foreach (var cell in cells.EnumerateArray())
            {
                if (cell.ValueKind != JsonValueKind.Object || !cell.TryGetProperty("cell_type", out var type) || type.GetString() is not ("code" or "markdown" or "raw"))
                    throw new BadInputException(path, $"cell {index} has no cell_type code, markdown or raw", "repair the notebook in Jupyter");
                if (type.GetString() == "raw")
                    raw.Add(index);
                index++;
            }
        }
        catch (JsonException e)
        {
            throw new BadInputException(path, $"is not valid JSON ({e.Message})", "open it in Jupyter or restore it from git", e);
        }
        // Documents reads a raw cell as C# code; marked raw here, it is neither run nor shown, and Save writes it back as raw.
        var notebook = Notebook.Parse(json, Kernels());
        foreach (int i in raw)
            notebook.Elements[i].KernelName = Raw;
        return notebook;
    }

    const string Raw = "raw";

    /// <summary>Writes <paramref name="notebook"/> atomically (cells without an id get one, as nbformat 4.5 requires).</summary>
    public static void Save(InteractiveDocument notebook, string path)
    {
        foreach (var cell in notebook.Elements.Where(c => string.IsNullOrEmpty(c.Id)))
            cell.Id = NewId();
        using var buffer = new MemoryStream();
        Notebook.Write(notebook, buffer, Kernels());
        string json = System.Text.Encoding.UTF8.GetString(buffer.ToArray());
        if (notebook.Elements.Any(c => c.KernelName == Raw))
        {
            var root = JsonNode.Parse(json)!;
            foreach (var cell in root["cells"]!.AsArray().OfType<JsonObject>().Where(c => c["metadata"]?["polyglot_notebook"]?["kernelName"]?.GetValue<string>() == Raw))
            {
                cell["cell_type"] = Raw;
                cell["metadata"] = new JsonObject();
                cell.Remove("outputs");
                cell.Remove("execution_count");
            }
            json = root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
        }
        AtomicFile.WriteText(path, json);
    }

    /// <summary>A fresh cell id.</summary>
    public static string NewId() => Guid.NewGuid().ToString("N")[..12];

    /// <summary>Whether <paramref name="cell"/> is code (not markdown or raw).</summary>
    public static bool IsCode(InteractiveDocumentElement cell) => cell.KernelName is not ("markdown" or Raw or "md");

    /// <summary>The cell's tags (<c>metadata.tags</c>).</summary>
    public static IReadOnlyList<string> Tags(InteractiveDocumentElement cell) =>
        cell.Metadata?.TryGetValue("tags", out var tags) == true && tags is System.Collections.IEnumerable items and not string
            ? [.. items.Cast<object?>().Select(t => t?.ToString() ?? "")]
            : [];
}
