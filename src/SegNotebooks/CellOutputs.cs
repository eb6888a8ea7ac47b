using System.Text;
using System.Text.Json.Nodes;

namespace SegNotebooks;

/// <summary>
/// Collects one cell's outputs in order, as nbformat output objects: stdout/stderr text merges into
/// <c>stream</c> outputs, displayed values become <c>display_data</c>, the cell's value <c>execute_result</c>.
/// Thread-safe, since library code may print from worker threads.
/// </summary>
public sealed class CellOutputs
{
    readonly object _gate = new();
    readonly JsonArray _outputs;

    /// <summary>Collects into <paramref name="outputs"/> (a code cell's list).</summary>
    public CellOutputs(JsonArray outputs) => _outputs = outputs;

    /// <summary>Appends text to the stream <paramref name="name"/> (stdout or stderr).</summary>
    public void Write(string name, string text)
    {
        if (text.Length == 0)
            return;
        lock (_gate)
        {
            if (_outputs.Count > 0 && _outputs[^1] is JsonObject last && last["output_type"]?.GetValue<string>() == "stream" && last["name"]?.GetValue<string>() == name)
                last["text"] = last["text"]!.GetValue<string>() + text;
            else
                _outputs.Add(new JsonObject { ["name"] = name, ["output_type"] = "stream", ["text"] = text });
        }
    }

    /// <summary>Adds a <c>display_data</c> output and returns it, so a display handle can replace its data.</summary>
    public JsonObject Display(IReadOnlyDictionary<string, string> bundle)
    {
        var output = new JsonObject { ["data"] = Data(bundle), ["metadata"] = new JsonObject(), ["output_type"] = "display_data" };
        lock (_gate)
            _outputs.Add(output);
        return output;
    }

    /// <summary>Replaces a displayed output's data (a live chart's new frame).</summary>
    public void Replace(JsonObject output, IReadOnlyDictionary<string, string> bundle)
    {
        lock (_gate)
            output["data"] = Data(bundle);
    }

    /// <summary>Adds the cell's value as <c>execute_result</c>.</summary>
    public void Result(IReadOnlyDictionary<string, string> bundle, int executionCount)
    {
        lock (_gate)
            _outputs.Add(new JsonObject { ["data"] = Data(bundle), ["execution_count"] = executionCount, ["metadata"] = new JsonObject(), ["output_type"] = "execute_result" });
    }

    /// <summary>Adds an <c>error</c> output.</summary>
    public void Error(string name, string value, IEnumerable<string> traceback)
    {
        lock (_gate)
            _outputs.Add(new JsonObject
            {
                ["ename"] = name,
                ["evalue"] = value,
                ["output_type"] = "error",
                ["traceback"] = new JsonArray([.. traceback.Select(t => (JsonNode)t)]),
            });
    }

    static JsonObject Data(IReadOnlyDictionary<string, string> bundle)
    {
        var data = new JsonObject();
        foreach (var (mime, content) in bundle)
            data[mime] = content;
        return data;
    }
}

/// <summary>A TextWriter that feeds a stream output of the current cell and echoes to another writer.</summary>
sealed class CellWriter(string name, TextWriter echo) : TextWriter
{
    public CellOutputs? Target { get; set; }

    public override Encoding Encoding => Encoding.UTF8;

    public override void Write(char value) => Write(value.ToString());

    public override void Write(string? value)
    {
        if (string.IsNullOrEmpty(value))
            return;
        Target?.Write(name, value);
        echo.Write(value);
    }

    public override void Write(char[] buffer, int index, int count) => Write(new string(buffer, index, count));

    public override void WriteLine(string? value) => Write(value + "\n");

    public override void Flush() => echo.Flush();
}
