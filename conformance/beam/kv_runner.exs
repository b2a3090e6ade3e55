# Reference runner: plays single-client `.kv` scripts (docs/script-language.md
# format, see conformance/README.md) on a real BEAM with the KV registry code of
# the Elixir "Mix and OTP" guide's GenServer chapter, and prints the dialogue in
# exactly kvsim's format.
#
# Usage (all scripts, all stages, one BEAM):
#
#   elixir conformance/beam/kv_runner.exs [--stages naive,monitored,...]
#          [--out DIR] [--check] [--pairs FILE] [--quiet] SCRIPT.kv...
#
#   --out DIR    write DIR/NAME.STAGE.out for every (script, stage) played
#   --check      compare each output with the recording beside the script
#                (SCRIPTDIR/NAME.STAGE.out); print "MISMATCH <script> <stage>"
#                for each difference (and "MISSING ..." for an absent one);
#                exit 1 if any. Use with --out to keep the actual outputs.
#   --pairs FILE play only the (script, stage) pairs listed in FILE, one
#                "<script path> <stage>" a line (the MISMATCH lines' format)
#   --stages     comma-separated subset of the five stages (default: all)
#   --versions   print the Erlang/OTP and Elixir versions and exit
#   --quiet      no summary line on stderr
#   --repeat N   play every pair N times; print the pairs whose dialogue
#                changed between runs, with each dialogue's count
#
# A pair with an exclusion file beside the script (NAME.exclude, or
# NAME.STAGE.exclude) is skipped and counted as excluded.
# Without --out and --check, the dialogues are printed to stdout.

## ---------------------------------------------------------------------------
## The bucket (the guide's Agent chapter, a Map instead of HashDict)
## ---------------------------------------------------------------------------

defmodule KV.Bucket do
  @doc "Starts a new bucket, linked to the caller."
  def start_link do
    Agent.start_link(fn -> Map.new() end)
  end

  @doc "Starts a new bucket, not linked (stages `unlinked` and `fixed`)."
  def start do
    Agent.start(fn -> Map.new() end)
  end

  def get(bucket, key) do
    Agent.get(bucket, &Map.get(&1, key))
  end

  def put(bucket, key, value) do
    Agent.update(bucket, &Map.put(&1, key, value))
  end

  def delete(bucket, key) do
    Agent.get_and_update(bucket, &Map.pop(&1, key))
  end
end

## ---------------------------------------------------------------------------
## Stage `naive`: chapter section 3.1, plus section 3.2's stop/1 and its
## :stop clause. No monitor, buckets linked, and NO handle_info/2 at all, so
## `use GenServer`'s default logs and drops a stray message.
## ---------------------------------------------------------------------------

defmodule KV.Registry.Naive do
  use GenServer

  ## Client API

  def start_link(opts \\ []) do
    GenServer.start_link(__MODULE__, :ok, opts)
  end

  # The runner starts the registry unlinked so that its death does not
  # kill the client (the chapter's test starts it with start_link).
  def start(opts \\ []) do
    GenServer.start(__MODULE__, :ok, opts)
  end

  def lookup(server, name) do
    GenServer.call(server, {:lookup, name})
  end

  def create(server, name) do
    GenServer.cast(server, {:create, name})
  end

  def stop(server) do
    GenServer.call(server, :stop)
  end

  ## Server Callbacks

  def init(:ok) do
    {:ok, Map.new()}
  end

  def handle_call({:lookup, name}, _from, names) do
    {:reply, Map.fetch(names, name), names}
  end

  def handle_call(:stop, _from, state) do
    {:stop, :normal, :ok, state}
  end

  def handle_cast({:create, name}, names) do
    if Map.get(names, name) do
      {:noreply, names}
    else
      {:ok, bucket} = KV.Bucket.start_link()
      {:noreply, Map.put(names, name, bucket)}
    end
  end
end

## ---------------------------------------------------------------------------
## Stage `monitored`: the chapter's final code (section 3.3), Map for HashDict.
## Buckets linked AND monitored; catch-all handle_info.
## ---------------------------------------------------------------------------

defmodule KV.Registry.Monitored do
  use GenServer

  def start(opts \\ []), do: GenServer.start(__MODULE__, :ok, opts)
  def lookup(server, name), do: GenServer.call(server, {:lookup, name})
  def create(server, name), do: GenServer.cast(server, {:create, name})
  def stop(server), do: GenServer.call(server, :stop)

  ## Server callbacks

  def init(:ok) do
    names = Map.new()
    refs = Map.new()
    {:ok, {names, refs}}
  end

  def handle_call({:lookup, name}, _from, {names, _} = state) do
    {:reply, Map.fetch(names, name), state}
  end

  def handle_call(:stop, _from, state) do
    {:stop, :normal, :ok, state}
  end

  def handle_cast({:create, name}, {names, refs}) do
    if Map.get(names, name) do
      {:noreply, {names, refs}}
    else
      {:ok, pid} = KV.Bucket.start_link()
      ref = Process.monitor(pid)
      refs = Map.put(refs, ref, name)
      names = Map.put(names, name, pid)
      {:noreply, {names, refs}}
    end
  end

  def handle_info({:DOWN, ref, :process, _pid, _reason}, {names, refs}) do
    {name, refs} = Map.pop(refs, ref)
    names = Map.delete(names, name)
    {:noreply, {names, refs}}
  end

  def handle_info(_msg, state) do
    {:noreply, state}
  end
end

## ---------------------------------------------------------------------------
## Stage `no-catch-all`: `monitored` without the catch-all handle_info clause:
## a stray message is a FunctionClauseError that kills the registry (and, by
## the links, its buckets).
## ---------------------------------------------------------------------------

defmodule KV.Registry.NoCatchAll do
  use GenServer

  def start(opts \\ []), do: GenServer.start(__MODULE__, :ok, opts)
  def lookup(server, name), do: GenServer.call(server, {:lookup, name})
  def create(server, name), do: GenServer.cast(server, {:create, name})
  def stop(server), do: GenServer.call(server, :stop)

  def init(:ok) do
    {:ok, {Map.new(), Map.new()}}
  end

  def handle_call({:lookup, name}, _from, {names, _} = state) do
    {:reply, Map.fetch(names, name), state}
  end

  def handle_call(:stop, _from, state) do
    {:stop, :normal, :ok, state}
  end

  def handle_cast({:create, name}, {names, refs}) do
    if Map.get(names, name) do
      {:noreply, {names, refs}}
    else
      {:ok, pid} = KV.Bucket.start_link()
      ref = Process.monitor(pid)
      refs = Map.put(refs, ref, name)
      names = Map.put(names, name, pid)
      {:noreply, {names, refs}}
    end
  end

  def handle_info({:DOWN, ref, :process, _pid, _reason}, {names, refs}) do
    {name, refs} = Map.pop(refs, ref)
    names = Map.delete(names, name)
    {:noreply, {names, refs}}
  end
end

## ---------------------------------------------------------------------------
## Stage `unlinked`: `monitored` with buckets started unlinked (Agent.start);
## no liveness check.
## ---------------------------------------------------------------------------

defmodule KV.Registry.Unlinked do
  use GenServer

  def start(opts \\ []), do: GenServer.start(__MODULE__, :ok, opts)
  def lookup(server, name), do: GenServer.call(server, {:lookup, name})
  def create(server, name), do: GenServer.cast(server, {:create, name})
  def stop(server), do: GenServer.call(server, :stop)

  def init(:ok) do
    {:ok, {Map.new(), Map.new()}}
  end

  def handle_call({:lookup, name}, _from, {names, _} = state) do
    {:reply, Map.fetch(names, name), state}
  end

  def handle_call(:stop, _from, state) do
    {:stop, :normal, :ok, state}
  end

  def handle_cast({:create, name}, {names, refs}) do
    if Map.get(names, name) do
      {:noreply, {names, refs}}
    else
      {:ok, pid} = KV.Bucket.start()
      ref = Process.monitor(pid)
      refs = Map.put(refs, ref, name)
      names = Map.put(names, name, pid)
      {:noreply, {names, refs}}
    end
  end

  def handle_info({:DOWN, ref, :process, _pid, _reason}, {names, refs}) do
    {name, refs} = Map.pop(refs, ref)
    names = Map.delete(names, name)
    {:noreply, {names, refs}}
  end

  def handle_info(_msg, state) do
    {:noreply, state}
  end
end

## ---------------------------------------------------------------------------
## Stage `fixed`: buckets unlinked and monitored; lookup answers :error for a
## name whose bucket is dead even before its DOWN is handled; create over a
## dead bucket demonitors the old ref with :flush, drops it and starts a new
## bucket; a DOWN whose ref is not in the refs map is dropped; strays ignored.
## ---------------------------------------------------------------------------

defmodule KV.Registry.Fixed do
  use GenServer

  def start(opts \\ []), do: GenServer.start(__MODULE__, :ok, opts)
  def lookup(server, name), do: GenServer.call(server, {:lookup, name})
  def create(server, name), do: GenServer.cast(server, {:create, name})
  def stop(server), do: GenServer.call(server, :stop)

  # names: name => pid, refs: ref => name
  def init(:ok) do
    {:ok, {Map.new(), Map.new()}}
  end

  def handle_call({:lookup, name}, _from, {names, _} = state) do
    case Map.fetch(names, name) do
      {:ok, pid} = found ->
        if Process.alive?(pid), do: {:reply, found, state}, else: {:reply, :error, state}

      :error ->
        {:reply, :error, state}
    end
  end

  def handle_call(:stop, _from, state) do
    {:stop, :normal, :ok, state}
  end

  def handle_cast({:create, name}, {names, refs}) do
    case Map.fetch(names, name) do
      {:ok, pid} ->
        if Process.alive?(pid) do
          {:noreply, {names, refs}}
        else
          refs = drop_refs_of(refs, name)
          start_bucket(name, names, refs)
        end

      :error ->
        start_bucket(name, names, refs)
    end
  end

  defp drop_refs_of(refs, name) do
    refs
    |> Enum.filter(fn {_ref, n} -> n == name end)
    |> Enum.reduce(refs, fn {ref, _}, acc ->
      Process.demonitor(ref, [:flush])
      Map.delete(acc, ref)
    end)
  end

  defp start_bucket(name, names, refs) do
    {:ok, pid} = KV.Bucket.start()
    ref = Process.monitor(pid)
    {:noreply, {Map.put(names, name, pid), Map.put(refs, ref, name)}}
  end

  def handle_info({:DOWN, ref, :process, _pid, _reason}, {names, refs} = state) do
    case Map.pop(refs, ref) do
      {nil, _} -> {:noreply, state}
      {name, refs} -> {:noreply, {Map.delete(names, name), refs}}
    end
  end

  def handle_info(_msg, state) do
    {:noreply, state}
  end
end

## ---------------------------------------------------------------------------
## The script player
## ---------------------------------------------------------------------------

defmodule KVRunner do
  @stages ["naive", "monitored", "no-catch-all", "unlinked", "fixed"]
  @modules %{
    "naive" => KV.Registry.Naive,
    "monitored" => KV.Registry.Monitored,
    "no-catch-all" => KV.Registry.NoCatchAll,
    "unlinked" => KV.Registry.Unlinked,
    "fixed" => KV.Registry.Fixed
  }
  @directives ["CRASH", "KILL", "STOP", "SEND", "SETTLE", "CLIENT"]
  @wait_ms 10_000

  def stages, do: @stages

  ## ---- parsing ----------------------------------------------------------

  # Returns {:ok, [{line_no, words}]} or {:error, "FILE:LINE: what"}.
  def parse(path) do
    content = File.read!(path)

    if not String.valid?(content) do
      {:error, "#{path}:1: not UTF-8"}
    else
      lines = String.split(content, "\n")
      # a final "\n" leaves one empty string at the end
      lines = if List.last(lines) == "", do: Enum.drop(lines, -1), else: lines

      lines
      |> Enum.with_index(1)
      |> Enum.reduce_while({:ok, []}, fn {line, no}, {:ok, acc} ->
        line =
          if String.ends_with?(line, "\r"),
            do: binary_part(line, 0, byte_size(line) - 1),
            else: line

        words = String.split(line, [" ", "\t"], trim: true)

        cond do
          byte_size(line) > 4096 ->
            {:halt, {:error, "#{path}:#{no}: line longer than 4096 bytes"}}

          words == [] ->
            {:cont, {:ok, acc}}

          String.starts_with?(hd(words), "#") ->
            {:cont, {:ok, acc}}

          true ->
            case check_directive(words) do
              :ok -> {:cont, {:ok, [{no, words} | acc]}}
              {:bad, what} -> {:halt, {:error, "#{path}:#{no}: #{what}"}}
            end
        end
      end)
      |> case do
        {:ok, acc} -> {:ok, Enum.reverse(acc)}
        err -> err
      end
    end
  end

  defp check_directive([d | _] = words) when d in @directives do
    n = length(words)

    case {d, n} do
      {"CRASH", 2} -> :ok
      {"CRASH", 3} -> check_reason(Enum.at(words, 2))
      {"KILL", 2} -> :ok
      {"STOP", 2} -> :ok
      {"SEND", 3} -> if Enum.at(words, 1) == "registry", do: :ok, else: {:bad, "SEND to anything but registry"}
      {"SETTLE", 1} -> :ok
      {"CLIENT", _} -> {:bad, "CLIENT: the reference runner plays single-client scripts only"}
      _ -> {:bad, "malformed directive #{d}"}
    end
  end

  defp check_directive(_), do: :ok

  defp check_reason(r) do
    if byte_size(r) > 255, do: {:bad, "reason longer than 255 bytes"}, else: :ok
  end

  ## ---- playing ----------------------------------------------------------

  # Plays `cmds` against a fresh registry of `stage` in a fresh client process
  # (not linked to the runner); returns the dialogue as a binary.
  def play(cmds, stage) do
    parent = self()
    tag = make_ref()
    {pid, mref} = spawn_monitor(fn -> send(parent, {tag, client(cmds, stage)}) end)

    receive do
      {^tag, out} ->
        receive do
          {:DOWN, ^mref, _, _, _} -> :ok
        end

        out

      # A runner failure is reported in the output, so that it shows as a
      # mismatch (and is retried) instead of stopping the whole run.
      {:DOWN, ^mref, _, _, reason} ->
        "RUNNER FAILURE: client crashed: #{inspect(reason)}\n"
    after
      60_000 ->
        Process.exit(pid, :kill)
        "RUNNER FAILURE: client hung\n"
    end
  end

  defp client(cmds, stage) do
    mod = Map.fetch!(@modules, stage)
    {:ok, reg} = mod.start()
    reg_ref = Process.monitor(reg)
    st = %{mod: mod, reg: reg, reg_ref: reg_ref, reg_dead: false, pending: []}

    {out, st} =
      Enum.reduce(cmds, {[], st}, fn {_no, words}, {out, st} ->
        {resp, st} = command(words, st)
        echo = Enum.join(words, " ")
        {[out, echo, "\n", Enum.map(resp, &[&1, "\n"]), "\n"], st}
      end)

    cleanup(st)
    IO.iodata_to_binary(out)
  end

  # Kills what the run left behind (reachable buckets and the registry).
  defp cleanup(st) do
    try do
      state = :sys.get_state(st.reg, 1000)

      names =
        case state do
          {names, _refs} -> names
          names -> names
        end

      for {_name, pid} <- names, do: Process.exit(pid, :kill)
    catch
      :exit, _ -> :ok
    end

    Process.exit(st.reg, :kill)
  end

  defp with_bucket(st, name, fun) do
    try do
      case st.mod.lookup(st.reg, name) do
        {:ok, pid} -> fun.(pid)
        :error -> ["NOT FOUND"]
      end
    catch
      :exit, reason -> ["ERROR " <> fmt(reason)]
    end
  end

  ## commands of the guide's protocol

  defp command(["CREATE", name], st) do
    :ok = st.mod.create(st.reg, name)
    {["OK"], st}
  end

  defp command(["PUT", b, k, v], st) do
    {with_bucket(st, b, fn pid -> :ok = KV.Bucket.put(pid, k, v); ["OK"] end), st}
  end

  defp command(["GET", b, k], st) do
    {with_bucket(st, b, fn pid -> [KV.Bucket.get(pid, k) || "", "OK"] end), st}
  end

  defp command(["DELETE", b, k], st) do
    {with_bucket(st, b, fn pid -> KV.Bucket.delete(pid, k); ["OK"] end), st}
  end

  defp command(["LOOKUP", b], st) do
    {with_bucket(st, b, fn _pid -> ["OK"] end), st}
  end

  ## harness directives aimed at the registry

  defp command(["CRASH", "registry"], st), do: command(["CRASH", "registry", "boom"], st)

  defp command(["CRASH", "registry", reason], st) do
    Process.exit(st.reg, String.to_atom(reason))
    {["OK"], st}
  end

  defp command(["KILL", "registry"], st) do
    Process.exit(st.reg, :kill)
    {["OK"], st}
  end

  defp command(["STOP", "registry"], st) do
    try do
      :ok = st.mod.stop(st.reg)
      {["OK"], st}
    catch
      :exit, reason -> {["ERROR " <> fmt(reason)], st}
    end
  end

  defp command(["SEND", "registry", word], st) do
    send(st.reg, word)
    {["OK"], st}
  end

  ## harness directives aimed at a bucket (looked up through the registry)

  defp command(["CRASH", b], st), do: command(["CRASH", b, "boom"], st)

  defp command(["CRASH", b, reason], st) do
    reason = String.to_atom(reason)
    hit(st, b, reason)
  end

  defp command(["KILL", b], st), do: hit(st, b, :kill)

  defp command(["STOP", b], st) do
    {with_bucket(st, b, fn pid -> :ok = Agent.stop(pid); ["OK"] end), st}
  end

  defp command(["SETTLE"], st) do
    {["OK"], settle(st)}
  end

  defp command(_words, st), do: {["UNKNOWN COMMAND"], st}

  # Looks the bucket up and sends it an exit signal; remembers (monitors) the
  # pid so that SETTLE can wait for its death, unless the reason is `normal`
  # (ignored by a bucket: it would never die).
  defp hit(st, b, reason) do
    try do
      case st.mod.lookup(st.reg, b) do
        {:ok, pid} ->
          st =
            if reason == :normal,
              do: st,
              else: %{st | pending: [Process.monitor(pid) | st.pending]}

          Process.exit(pid, reason)
          {["OK"], st}

        :error ->
          {["NOT FOUND"], st}
      end
    catch
      :exit, r -> {["ERROR " <> fmt(r)], st}
    end
  end

  # Waits for the DOWN of every bucket hit since the last SETTLE; then, if
  # the registry is dead or dying, for its DOWN; else a synchronous call to
  # the registry makes sure it has handled everything sent to it before.
  defp settle(st) do
    for ref <- st.pending do
      receive do
        {:DOWN, ^ref, :process, _, _} -> :ok
      after
        @wait_ms -> raise "SETTLE: no DOWN from a hit bucket"
      end
    end

    st = %{st | pending: []}

    if st.reg_dead do
      st
    else
      try do
        _ = :sys.get_state(st.reg)
        st
      catch
        :exit, _ ->
          ref = st.reg_ref

          receive do
            {:DOWN, ^ref, :process, _, _} -> :ok
          after
            @wait_ms -> raise "SETTLE: the registry neither answers nor dies"
          end

          %{st | reg_dead: true}
      end
    end
  end

  ## exit reasons: the head atom

  def fmt({reason, {GenServer, f, _args}}) when f in [:call, :stop], do: head(reason)
  def fmt(reason), do: head(reason)

  defp head(a) when is_atom(a), do: Atom.to_string(a)
  defp head({%FunctionClauseError{}, _}), do: "function_clause"
  defp head({%{__exception__: true, __struct__: m}, _}), do: inspect(m)
  defp head(t) when is_tuple(t) and tuple_size(t) > 0, do: head(elem(t, 0))
  defp head(other), do: inspect(other)

  ## ---- main ------------------------------------------------------------

  # --repeat N: plays every pair N times (exclusions ignored) and prints, for
  # each pair whose dialogue was not always the same, every distinct dialogue
  # with its count. Finds timing-dependent scripts.
  defp repeat(pairs, parsed, n) do
    unstable =
      Enum.count(pairs, fn {script, stage} ->
        cmds = Map.fetch!(parsed, script)
        freq = Enum.frequencies(for _ <- 1..n, do: play(cmds, stage))

        if map_size(freq) > 1 do
          IO.puts("UNSTABLE #{script} #{stage}")

          for {out, k} <- Enum.sort_by(freq, fn {_, k} -> -k end) do
            IO.puts("  #{k}/#{n}: " <> String.replace(String.trim_trailing(out), "\n", "|"))
          end

          true
        else
          false
        end
      end)

    IO.puts(:stderr, "kv_runner: #{length(pairs)} pairs x #{n} runs: #{unstable} unstable")
  end

  def versions do
    otp = :erlang.system_info(:otp_release) |> List.to_string()
    file = Path.join([:code.root_dir(), "releases", otp, "OTP_VERSION"])

    full =
      case File.read(file) do
        {:ok, v} -> String.trim(v)
        _ -> otp
      end

    "Erlang/OTP #{full} (erts #{:erlang.system_info(:version)}), Elixir #{System.version()}"
  end

  def main(argv) do
    {opts, scripts, invalid} =
      OptionParser.parse(argv,
        strict: [
          out: :string,
          check: :boolean,
          pairs: :string,
          stages: :string,
          quiet: :boolean,
          versions: :boolean,
          repeat: :integer
        ]
      )

    if opts[:versions] do
      IO.puts(versions())
      System.halt(0)
    end

    if invalid != [] do
      IO.puts(:stderr, "kv_runner: bad options #{inspect(invalid)}")
      System.halt(2)
    end

    stages =
      case opts[:stages] do
        nil -> @stages
        s -> String.split(s, ",", trim: true)
      end

    for s <- stages, s not in @stages do
      IO.puts(:stderr, "kv_runner: unknown stage #{s}")
      System.halt(2)
    end

    pairs =
      case opts[:pairs] do
        nil ->
          for script <- scripts, stage <- stages, do: {script, stage}

        file ->
          File.read!(file)
          |> String.split("\n", trim: true)
          |> Enum.map(fn l ->
            # "<KIND> <script path> <stage>"; the path may hold spaces
            [_kind | rest] = String.split(l, " ")
            {script, [stage]} = Enum.split(rest, -1)
            {Enum.join(script, " "), stage}
          end)
      end

    out_dir = opts[:out]
    if out_dir, do: File.mkdir_p!(out_dir)
    check = opts[:check] || false

    parsed =
      pairs
      |> Enum.map(&elem(&1, 0))
      |> Enum.uniq()
      |> Map.new(fn script ->
        case parse(script) do
          {:ok, cmds} ->
            {script, cmds}

          {:error, msg} ->
            IO.puts(:stderr, msg)
            System.halt(2)
        end
      end)

    if n = opts[:repeat] do
      repeat(pairs, parsed, n)
      System.halt(0)
    end

    results =
      Enum.map(pairs, fn {script, stage} ->
        dir = Path.dirname(script)
        name = Path.basename(script, ".kv")

        excluded =
          File.exists?(Path.join(dir, name <> ".exclude")) or
            File.exists?(Path.join(dir, "#{name}.#{stage}.exclude"))

        if excluded do
          :excluded
        else
          out = play(Map.fetch!(parsed, script), stage)
          if out_dir, do: File.write!(Path.join(out_dir, "#{name}.#{stage}.out"), out)

          cond do
            check ->
              rec = Path.join(dir, "#{name}.#{stage}.out")

              case File.read(rec) do
                {:ok, ^out} ->
                  :passed

                {:ok, _} ->
                  IO.puts("MISMATCH #{script} #{stage}")
                  :failed

                {:error, _} ->
                  IO.puts("MISSING #{script} #{stage}")
                  :failed
              end

            out_dir ->
              :played

            true ->
              if length(pairs) > 1, do: IO.write("== #{name} #{stage}\n")
              IO.write(out)
              :played
          end
        end
      end)

    freq = Enum.frequencies(results)

    unless opts[:quiet] do
      IO.puts(
        :stderr,
        "kv_runner: #{length(results)} pairs: #{freq[:passed] || 0} passed, " <>
          "#{freq[:failed] || 0} failed, #{freq[:played] || 0} played, " <>
          "#{freq[:excluded] || 0} excluded"
      )
    end

    if (freq[:failed] || 0) > 0, do: System.halt(1)
  end
end

# Silence the logger: crashing processes and the default handle_info/2 log
# errors, and stdout must hold only the dialogues.
Logger.configure(level: :none)
:logger.set_primary_config(:level, :none)

KVRunner.main(System.argv())
