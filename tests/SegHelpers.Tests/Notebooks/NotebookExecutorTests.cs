using SegHelpers.Tests.Cli;
using SegHelpers.Tests.Data;
using static SegHelpers.Tests.Notebooks.NotebookFiles;

namespace SegHelpers.Tests.Notebooks;

public class NotebookExecutorTests
{
    [Fact]
    public void Cells_share_state_and_every_output_kind_lands_in_a_valid_notebook()
    {
        using var dir = new TempDir();
        string notebook = Write(dir["in/t.ipynb"],
            Markdown("# Title\nsome *text*"),
            ReferenceSegHelpers(),
            Code("#!csharp\nint x = 20;"),
            Code("Console.WriteLine($\"x is {x}\");\nx * 2 + 2"),
            Code("using Microsoft.DotNet.Interactive;\nvar h = display(new SegHelpers.Notebooks.HtmlView(\"<i>first</i>\"));\nh.Update(new SegHelpers.Notebooks.HtmlView(\"<b>second</b>\"));\n" +
                "var c = KernelInvocationContext.Current.Display(new SegHelpers.Notebooks.HtmlView(\"<i>one</i>\"));\nc.Update(new SegHelpers.Notebooks.HtmlView(\"<b>two</b>\"));"),
            Code("SegHelpers.Notebooks.PngImage.From(new SegHelpers.Data.RgbImage(2, 1, new byte[] { 255, 0, 0, 0, 0, 255 }))"),
            Code("Console.Error.WriteLine(\"careful\");"),
            Code("[System.Obsolete(\"use New\")] static int Old() => 1;\nOld()"));

        var (exit, _, stderr) = Seg.Run("notebook", "run", notebook, "--out", dir["out"]);

        Assert.True(exit == 0, stderr);
        string executed = dir["out/t.ipynb"];
        AssertValid(executed);
        var cells = Cells(executed);
        Assert.Equal([null, 1, 2, 3, 4, 5, 6, 7], cells.Select(c => c!["execution_count"]?.GetValue<int>()));
        var third = Outputs(cells, 3);
        Assert.Equal("x is 20\n", Text(third[0]!["text"]));
        Assert.Contains("<pre>42</pre>", Text(third[1]!["data"]!["text/html"])); // the kernel shows a number as HTML
        Assert.Equal(3, third[1]!["execution_count"]!.GetValue<int>());
        // As in Jupyter: display(…)'s handle updates under a display id of its own, which no output carries, so its updates are
        // dropped; the kernel context's handle updates its output in place.
        Assert.Equal(["<i>first</i>", "<b>two</b>"], Outputs(cells, 4).Select(o => Text(o!["data"]!["text/html"])));
        var png = Convert.FromBase64String(Text(Assert.Single(Outputs(cells, 5))!["data"]!["image/png"]));
        Assert.Equal<byte>([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        Assert.Equal("stderr", Assert.Single(Outputs(cells, 6))!["name"]!.GetValue<string>());
        // A compiler warning reaches the notebook as the kernel's Jupyter layer sends it: on standard error, before the value.
        var warned = Outputs(cells, 7);
        Assert.Equal(("stream", "stderr"), (warned[0]!["output_type"]!.GetValue<string>(), warned[0]!["name"]!.GetValue<string>()));
        Assert.Contains("warning CS0618", Text(warned[0]!["text"]));
        Assert.Equal("execute_result", warned[1]!["output_type"]!.GetValue<string>());
        string report = File.ReadAllText(dir["out/t.html"]);
        Assert.Contains("<h1", report);
        Assert.Contains("data:image/png;base64,", report);
        Assert.Contains("x is 20", report);
    }

    [Fact]
    public void A_raw_cell_is_neither_run_nor_shown_and_stays_raw()
    {
        using var dir = new TempDir();
        string notebook = Write(dir["t.ipynb"], ("raw", "not C#: RAWTEXT", []), Code("1 + 1"));

        var (exit, stdout, stderr) = Seg.Run("notebook", "run", notebook, "--out", dir["out"]);

        Assert.True(exit == 0, stdout + stderr);
        AssertValid(dir["out/t.ipynb"]);
        var raw = Cells(dir["out/t.ipynb"])[0]!;
        Assert.Equal(("raw", "not C#: RAWTEXT"), (raw["cell_type"]!.GetValue<string>(), Text(raw["source"])));
        Assert.DoesNotContain("RAWTEXT", File.ReadAllText(dir["out/t.html"]));
    }

    [Fact]
    public void Parameters_go_into_a_tagged_cell_after_the_parameters_cell_typed_as_declared()
    {
        using var dir = new TempDir();
        string notebook = Write(dir["t.ipynb"],
            Code("int Count = 1;\nstring Name = \"a\";\ndouble Rate = 0.5;\nvar Flag = false;", "parameters"),
            Code("Console.Write($\"{Count + 1}|{Name}|{Rate * 2}|{Flag}\");"));

        var (exit, _, stderr) = Seg.Run("notebook", "run", notebook, "--out", dir["out"], "-p", "Count=3", "-p", "Name=x \"y\"", "-p", "Rate=2", "-p", "Flag=true");

        Assert.True(exit == 0, stderr);
        var cells = Cells(dir["out/t.ipynb"]);
        Assert.Equal(3, cells.Count);
        Assert.Equal("injected-parameters", cells[1]!["metadata"]!["tags"]![0]!.GetValue<string>());
        Assert.Equal("4|x \"y\"|4|True", Text(Outputs(cells, 2)[0]!["text"]));
    }

    [Fact]
    public void A_parameter_no_notebook_declares_is_refused_and_a_value_of_the_wrong_type_is_named()
    {
        using var dir = new TempDir();
        string notebook = Write(dir["t.ipynb"], Code("int Count = 1;", "parameters"));

        var unknown = Seg.Run("notebook", "run", notebook, "--out", dir["out"], "-p", "Cuont=3");
        var wrongType = Seg.Run("notebook", "run", notebook, "--out", dir["out"], "-p", "Count=many");

        Assert.Equal(2, unknown.Exit);
        Assert.Contains("Cuont", unknown.Err);
        Assert.Equal(2, wrongType.Exit);
        Assert.Contains("Count is declared int", wrongType.Err);
    }

    [Fact]
    public void A_failing_cell_stops_the_run_and_the_partial_notebook_and_report_are_still_written()
    {
        using var dir = new TempDir();
        string notebook = Write(dir["t.ipynb"],
            Code("Console.WriteLine(\"before\");"),
            Code("throw new InvalidOperationException(\"boom\");"),
            Code("Console.WriteLine(\"after\");"));

        var (exit, stdout, _) = Seg.Run("notebook", "run", notebook, "--out", dir["out"]);

        Assert.Equal(1, exit);
        Assert.Contains("cell 1", stdout);
        Assert.Contains("boom", stdout);
        string executed = dir["out/t.ipynb"];
        AssertValid(executed);
        var cells = Cells(executed);
        var error = Assert.Single(Outputs(cells, 1))!;
        Assert.Equal(("error", "System.InvalidOperationException", "boom"),
            (error["output_type"]!.GetValue<string>(), error["ename"]!.GetValue<string>(), error["evalue"]!.GetValue<string>()));
        Assert.Null(cells[2]!["execution_count"]?.GetValue<int>());
        Assert.Empty(Outputs(cells, 2));
        Assert.Contains("boom", File.ReadAllText(dir["out/t.html"]));
    }

    [Fact]
    public void A_missing_build_is_named_with_the_command_that_makes_it()
    {
        using var dir = new TempDir();
        string notebook = Write(dir["notebooks/t.ipynb"], Code("#r \"../src/SegCli/bin/Release/net10.0/SegHelpers.dll\"\n1"));

        var (exit, stdout, _) = Seg.Run("notebook", "run", notebook, "--out", dir["out"]);

        Assert.Equal(1, exit);
        Assert.Contains("CS0006", stdout);
        Assert.Contains("build first, with 'dotnet build -c Release' in the repository, or environment/setup.sh on SageMaker", stdout);
    }

    [Fact]
    public void A_compile_error_is_reported_with_its_line_in_the_cell()
    {
        using var dir = new TempDir();
        string notebook = Write(dir["t.ipynb"], Code("int a = 1;\nint b = a + undefinedName;"));

        var (exit, stdout, _) = Seg.Run("notebook", "run", notebook, "--out", dir["out"]);

        Assert.Equal(1, exit);
        Assert.Contains("(2,", stdout);
        Assert.Contains("undefinedName", stdout);
        // As the kernel's Jupyter layer sends it: the diagnostics on standard error, then the error.
        var outputs = Outputs(Cells(dir["out/t.ipynb"]), 0);
        Assert.Equal(2, outputs.Count);
        Assert.Contains("(2,", Text(outputs[0]!["text"]));
        Assert.Contains("undefinedName", Text(outputs[0]!["text"]));
        Assert.Equal("CompilationError", outputs[1]!["ename"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("#r \"nuget: Not.A.Package.Seg, 1.0.0\"", "Not.A.Package.Seg")]
    [InlineData("#!fsharp\nlet x = 1", "fsharp")]
    public void Directives_the_kernel_cannot_satisfy_are_errors_naming_them(string source, string expected)
    {
        using var dir = new TempDir();
        string notebook = Write(dir["t.ipynb"], Code(source));

        var (exit, stdout, _) = Seg.Run("notebook", "run", notebook, "--out", dir["out"]);

        Assert.Equal(1, exit);
        Assert.Contains(expected, stdout);
    }
}
