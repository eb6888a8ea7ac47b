using System.Text.Json;
using System.Text.Json.Nodes;
using SegHelpers;

namespace SegNotebooks;

/// <summary>
/// An nbformat 4 notebook kept as JSON, so metadata the executor does not know survives a round trip.
/// Cells are read and changed through <see cref="NotebookCell"/>.
/// </summary>
public sealed class Notebook
{
    readonly JsonObject _root;

    Notebook(JsonObject root, string path)
    {
        _root = root;
        Path = path;
    }

    /// <summary>The file it was read from.</summary>
    public string Path { get; }

    /// <summary>The cells, in order.</summary>
    public IReadOnlyList<NotebookCell> Cells => [.. CellArray.Select(c => new NotebookCell(c!.AsObject()))];

    /// <summary>Notebook-level metadata (kernelspec, language_info, …).</summary>
    public JsonObject Metadata => _root["metadata"] as JsonObject ?? (JsonObject)(_root["metadata"] = new JsonObject());

    JsonArray CellArray => (JsonArray)_root["cells"]!;

    /// <summary>Reads an .ipynb file; anything that is not nbformat 4 JSON with a cell list is a <see cref="BadInputException"/>.</summary>
    public static Notebook Load(string path)
    {
        if (!File.Exists(path))
            throw new BadInputException(path, "not found", "pass the path of an .ipynb notebook");
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new BadInputException(path, $"is not valid JSON ({e.Message})", "open it in Jupyter or restore it from git", e);
        }
        if (node is not JsonObject root || root["nbformat"]?.GetValueKind() != JsonValueKind.Number || root["nbformat"]!.GetValue<int>() != 4 || root["cells"] is not JsonArray cells)
            throw new BadInputException(path, "is not an nbformat 4 notebook (needs \"nbformat\": 4 and a \"cells\" list)", "save it from Jupyter or VS Code as .ipynb");
        foreach (var cell in cells)
            if (cell is not JsonObject c || c["cell_type"]?.GetValue<string>() is not ("code" or "markdown" or "raw"))
                throw new BadInputException(path, $"cell {cells.IndexOf(cell)} has no cell_type code, markdown or raw", "repair the notebook in Jupyter");
        return new Notebook(root, System.IO.Path.GetFullPath(path));
    }

    /// <summary>Inserts a code cell at <paramref name="index"/> and returns it.</summary>
    public NotebookCell InsertCode(int index, string source, params string[] tags)
    {
        var cell = new JsonObject
        {
            ["cell_type"] = "code",
            ["execution_count"] = null,
            ["id"] = Guid.NewGuid().ToString("N")[..12],
            ["metadata"] = new JsonObject
            {
                ["dotnet_interactive"] = new JsonObject { ["language"] = "csharp" },
                ["polyglot_notebook"] = new JsonObject { ["kernelName"] = "csharp" },
                ["tags"] = new JsonArray([.. tags.Select(t => (JsonNode)t)]),
            },
            ["outputs"] = new JsonArray(),
            ["source"] = source,
        };
        CellArray.Insert(index, cell);
        return new NotebookCell(cell);
    }

    /// <summary>Sets nbformat_minor to at least 5, so that cell ids are allowed.</summary>
    public void RequireCellIds()
    {
        if (_root["nbformat_minor"]?.GetValue<int>() is not >= 5)
            _root["nbformat_minor"] = 5;
        foreach (var cell in Cells)
            cell.EnsureId();
    }

    /// <summary>The notebook as indented JSON, as Jupyter writes it.</summary>
    public string ToJson() => _root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";

    /// <summary>Writes the notebook atomically.</summary>
    public void Save(string path) => AtomicFile.WriteText(path, ToJson());
}

/// <summary>One cell of a <see cref="Notebook"/>; changes go straight into the notebook's JSON.</summary>
public sealed class NotebookCell(JsonObject json)
{
    /// <summary>code, markdown or raw.</summary>
    public string Type => json["cell_type"]!.GetValue<string>();

    /// <summary>The source text (nbformat allows a string or a list of lines).</summary>
    public string Source => json["source"] switch
    {
        JsonArray lines => string.Concat(lines.Select(l => l?.GetValue<string>())),
        JsonValue text => text.GetValue<string>(),
        _ => "",
    };

    /// <summary>The cell's tags (<c>parameters</c>, <c>injected-parameters</c>, …).</summary>
    public IReadOnlyList<string> Tags =>
        json["metadata"]?["tags"] is JsonArray tags ? [.. tags.Select(t => t?.GetValue<string>() ?? "")] : [];

    /// <summary>The outputs list of a code cell.</summary>
    public JsonArray Outputs => json["outputs"] as JsonArray ?? (JsonArray)(json["outputs"] = new JsonArray());

    /// <summary>The execution count (null when not run).</summary>
    public int? ExecutionCount
    {
        get => json["execution_count"]?.GetValue<int>();
        set => json["execution_count"] = value;
    }

    /// <summary>Clears outputs and the execution count of a code cell.</summary>
    public void Clear()
    {
        if (Type != "code")
            return;
        Outputs.Clear();
        ExecutionCount = null;
    }

    internal void EnsureId()
    {
        if (json["id"] is null)
            json["id"] = Guid.NewGuid().ToString("N")[..12];
        if (json["metadata"] is null)
            json["metadata"] = new JsonObject();
        if (Type == "code")
        {
            json["outputs"] ??= new JsonArray();
            if (!json.ContainsKey("execution_count"))
                json["execution_count"] = null;
        }
    }
}
