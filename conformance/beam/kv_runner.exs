# Reference runner: plays `.kv` scripts (docs/script-language.md format, see
# conformance/README.md) on a real BEAM with the KV registry code of the Elixir
# "Mix and OTP" guide's GenServer chapter, and prints the dialogue in exactly
# kvsim's format: one client's conversation, or, for a script with CLIENT
# blocks, each client's under a "== NAME" header in order of appearance.
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
#   --delays     before each command, a client waits a small random time
#                (nothing, a yield, a 1-100 us spin or a 1 ms sleep), so that
#                the clients of a multi-client script interleave differently
#
# Multi-client scripts (the set of dialogues over many plays):
#
#   --plays N --counts FILE [--delays]
#                play every pair N times and write the distinct dialogues with
#                their counts to FILE (an Erlang term), labelled with this
#                BEAM's scheduler count and --delays ("s1", "s2-delays", ...)
#   --merge DIR COUNTS...
#                merge count files (the positional arguments) into one
#                DIR/NAME.dialogues per script: every distinct dialogue of
#                every stage with its count per label, and the BEAM versions
#   --check-multi N
#                play every pair N times (every other play with --delays) and
#                print "UNRECORDED <script> <stage> <file>" for each dialogue
#                that is neither in SCRIPTDIR/NAME.dialogues nor listed in
#                SCRIPTDIR/kvsim-only.md (the dialogue is written to <file>
#                under --out DIR); exit 1 if any
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

  # Returns {:ok, [{client_name, [{line_no, words}]}]} (clients in order of
  # first appearance; lines before the first CLIENT belong to "main") or
  # {:error, "FILE:LINE: what"}.
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
              :ok -> {:cont, {:ok, [{:cmd, no, words} | acc]}}
              {:client, name} -> {:cont, {:ok, [{:client, no, name} | acc]}}
              {:bad, what} -> {:halt, {:error, "#{path}:#{no}: #{what}"}}
            end
        end
      end)
      |> case do
        {:ok, acc} -> group_clients(Enum.reverse(acc), path)
        err -> err
      end
    end
  end

  # Groups the lines into client scripts, as kvsim does: a duplicate client
  # name is an error, and so is `CLIENT main` after lines that went to the
  # implicit `main`.
  defp group_clients(items, path) do
    items
    |> Enum.reduce_while({:ok, []}, fn
      {:client, no, name}, {:ok, cs} ->
        case Enum.find(cs, fn {n, _, _, _} -> n == name end) do
          nil ->
            {:cont, {:ok, [{name, no, :explicit, []} | cs]}}

          {_, first, :explicit, _} ->
            {:halt, {:error, "#{path}:#{no}: client #{inspect(name)} is already defined on line #{first}"}}

          {_, first, :implicit, _} ->
            {:halt,
             {:error,
              "#{path}:#{no}: client \"main\" is already defined by the lines before the " <>
                "first CLIENT, from line #{first}"}}
        end

      {:cmd, no, words}, {:ok, []} ->
        {:cont, {:ok, [{"main", no, :implicit, [{no, words}]}]}}

      {:cmd, no, words}, {:ok, [{n, first, how, cmds} | rest]} ->
        {:cont, {:ok, [{n, first, how, [{no, words} | cmds]} | rest]}}
    end)
    |> case do
      {:ok, []} -> {:ok, [{"main", []}]}
      {:ok, cs} -> {:ok, cs |> Enum.reverse() |> Enum.map(fn {n, _, _, cmds} -> {n, Enum.reverse(cmds)} end)}
      err -> err
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
      {"CLIENT", 2} -> {:client, Enum.at(words, 1)}
      {"CLIENT", 1} -> {:bad, "CLIENT needs a name"}
      _ -> {:bad, "malformed directive #{d}"}
    end
  end

  defp check_directive(_), do: :ok

  defp check_reason(r) do
    if byte_size(r) > 255, do: {:bad, "reason longer than 255 bytes"}, else: :ok
  end

  ## ---- playing ----------------------------------------------------------

  # Plays the client scripts against a fresh registry of `stage`, one
  # process per client (none linked to the runner); returns
  # {dialogue, summary}: the dialogue as kvsim prints it, and a one-line
  # summary of each client's responses (for the recordings' readers).
  def play(clients, stage, delays \\ false) do
    parent = self()
    tag = make_ref()

    {pid, mref} =
      spawn_monitor(fn -> send(parent, {tag, conduct(clients, stage, delays)}) end)

    receive do
      {^tag, result} ->
        receive do
          {:DOWN, ^mref, _, _, _} -> :ok
        end

        result

      # A runner failure is reported in the output, so that it shows as a
      # mismatch (and is retried) instead of stopping the whole run.
      {:DOWN, ^mref, _, _, reason} ->
        failure("conductor crashed: #{inspect(reason)}")
    after
      60_000 ->
        Process.exit(pid, :kill)
        failure("hung")
    end
  end

  defp failure(what), do: {"RUNNER FAILURE: #{what}\n", "RUNNER FAILURE"}

  # Starts the registry (unlinked, so that its death never kills a client),
  # spawns every client, each monitoring the registry, then releases them
  # together; collects each client's transcript and kills what the run left
  # behind.
  defp conduct(clients, stage, delays) do
    mod = Map.fetch!(@modules, stage)
    {:ok, reg} = mod.start()
    me = self()
    go = make_ref()

    spawned =
      for {{_name, cmds}, i} <- Enum.with_index(clients) do
        {pid, ref} =
          spawn_monitor(fn ->
            reg_ref = Process.monitor(reg)

            receive do
              ^go -> :ok
            end

            st = %{mod: mod, reg: reg, reg_ref: reg_ref, reg_dead: false, pending: []}
            send(me, {go, i, client(cmds, st, delays)})
          end)

        {pid, ref, i}
      end

    for {pid, _, _} <- spawned, do: send(pid, go)

    results =
      for {pid, ref, i} <- spawned do
        receive do
          {^go, ^i, result} -> result
          {:DOWN, ^ref, _, _, reason} -> {"RUNNER FAILURE: client crashed: #{inspect(reason)}\n", ["?"]}
        after
          60_000 ->
            Process.exit(pid, :kill)
            {"RUNNER FAILURE: client hung\n", ["?"]}
        end
      end

    cleanup(reg)

    names = Enum.map(clients, &elem(&1, 0))

    dialogue =
      case results do
        [{transcript, _}] ->
          transcript

        _ ->
          Enum.zip(names, results)
          |> Enum.map(fn {name, {transcript, _}} -> ["== ", name, "\n", transcript] end)
          |> IO.iodata_to_binary()
      end

    summary =
      Enum.zip(names, results)
      |> Enum.map(fn {name, {_, responses}} -> "#{name}: " <> Enum.join(responses, ", ") end)
      |> Enum.join(" · ")

    {dialogue, summary}
  end

  # Kills the registry and every process it started (buckets, linked or
  # not, found by their proc_lib ancestry), so that no play leaks into the
  # next.
  defp cleanup(reg) do
    me = self()

    for p <- Process.list(), p != me do
      case Process.info(p, :dictionary) do
        {:dictionary, dict} ->
          if me in Keyword.get(dict, :"$ancestors", []), do: Process.exit(p, :kill)

        nil ->
          :ok
      end
    end

    Process.exit(reg, :kill)
  end

  # Plays one client's commands; returns {transcript, responses}, a
  # response being its lines joined by " / " (an empty line shown as "").
  defp client(cmds, st, delays) do
    {out, responses, _st} =
      Enum.reduce(cmds, {[], [], st}, fn {_no, words}, {out, responses, st} ->
        if delays, do: delay()
        {resp, st} = command(words, st)
        echo = Enum.join(words, " ")
        shown = resp |> Enum.map(fn "" -> "\"\""; l -> l end) |> Enum.join(" / ")
        {[out, echo, "\n", Enum.map(resp, &[&1, "\n"]), "\n"], [shown | responses], st}
      end)

    {IO.iodata_to_binary(out), Enum.reverse(responses)}
  end

  # A small random wait: nothing, a yield, a busy spin of 1-100 us (shorter
  # than a sleep can be), or a 1 ms sleep (long enough for the other
  # clients to run a whole command).
  defp delay do
    case :rand.uniform(8) do
      n when n <= 2 -> :ok
      3 -> :erlang.yield()
      n when n <= 7 -> spin_until(System.monotonic_time(:microsecond) + :rand.uniform(100))
      _ -> Process.sleep(1)
    end
  end

  defp spin_until(t) do
    if System.monotonic_time(:microsecond) < t, do: spin_until(t), else: :ok
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

  # Waits for the DOWN of every bucket this client hit since its last
  # SETTLE; then, if the registry is dead or dying, for its DOWN; else a
  # synchronous call to the registry makes sure it has handled everything
  # sent to it before. (Other clients are not waited for.)
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

  ## ---- single-dialogue modes ---------------------------------------------

  # --repeat N: plays every pair N times (exclusions ignored) and prints, for
  # each pair whose dialogue was not always the same, every distinct dialogue
  # with its count. Finds timing-dependent scripts.
  defp repeat(pairs, parsed, n, delays) do
    unstable =
      Enum.count(pairs, fn {script, stage} ->
        clients = Map.fetch!(parsed, script)
        freq = Enum.frequencies(for _ <- 1..n, do: elem(play(clients, stage, delays), 0))

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

  ## ---- multi-client modes: sets of dialogues ----------------------------

  defp label(delays) do
    "s#{:erlang.system_info(:schedulers_online)}" <> if(delays, do: "-delays", else: "")
  end

  # --plays N --counts FILE: every pair N times; writes
  # %{label, versions, plays, counts: %{{name, stage} => %{dialogue => {count, summary}}}}.
  defp plays(pairs, parsed, n, delays, file) do
    counts =
      Map.new(pairs, fn {script, stage} ->
        clients = Map.fetch!(parsed, script)

        freq =
          Enum.reduce(1..n, %{}, fn _, acc ->
            {out, summary} = play(clients, stage, delays)
            Map.update(acc, out, {1, summary}, fn {k, s} -> {k + 1, s} end)
          end)

        {{Path.basename(script, ".kv"), stage}, freq}
      end)

    term = %{label: label(delays), versions: versions(), plays: n, counts: counts}
    File.write!(file, :erlang.term_to_binary(term))

    distinct = counts |> Map.values() |> Enum.map(&map_size/1) |> Enum.sum()

    IO.puts(
      :stderr,
      "kv_runner: #{length(pairs)} pairs x #{n} plays (#{term.label}): #{distinct} distinct dialogues"
    )
  end

  # --merge DIR COUNTS...: one DIR/NAME.dialogues per script.
  defp merge(dir, files) do
    terms = Enum.map(files, fn f -> :erlang.binary_to_term(File.read!(f)) end)
    labels = Enum.map(terms, & &1.label)

    if length(Enum.uniq(labels)) != length(labels) do
      IO.puts(:stderr, "kv_runner: --merge: two count files share a label: #{inspect(labels)}")
      System.halt(2)
    end

    versions = terms |> Enum.map(& &1.versions) |> Enum.uniq() |> Enum.join("; ")
    plays_by_label = Enum.map(terms, fn t -> {t.label, t.plays} end)

    # {name, stage} => dialogue => {summary, %{label => count}}
    merged =
      Enum.reduce(terms, %{}, fn t, acc ->
        Enum.reduce(t.counts, acc, fn {pair, freq}, acc ->
          Enum.reduce(freq, acc, fn {out, {k, summary}}, acc ->
            Map.update(acc, pair, %{out => {summary, %{t.label => k}}}, fn d ->
              Map.update(d, out, {summary, %{t.label => k}}, fn {s, by} -> {s, Map.put(by, t.label, k)} end)
            end)
          end)
        end)
      end)

    File.mkdir_p!(dir)

    merged
    |> Enum.group_by(fn {{name, _}, _} -> name end)
    |> Enum.each(fn {name, entries} ->
      by_stage = Map.new(entries, fn {{_, stage}, d} -> {stage, d} end)

      text = [
        "# The distinct dialogues a real BEAM printed for #{name}.kv, per registry\n",
        "# stage, each with how many plays printed it (written by\n",
        "# conformance/record-multi.sh; do not edit). Labels: s1 = one scheduler\n",
        "# (+S 1), s2 = two (+S 2); -delays = a small random wait before each command.\n",
        "versions: #{versions}\n",
        "plays per stage: #{fmt_by(Map.new(plays_by_label), labels)}\n",
        for stage <- @stages, Map.has_key?(by_stage, stage) do
          d = Map.fetch!(by_stage, stage)
          total = d |> Map.values() |> Enum.map(fn {_, by} -> by |> Map.values() |> Enum.sum() end) |> Enum.sum()

          [
            "\nstage #{stage}: #{total} plays, #{map_size(d)} dialogue#{if map_size(d) == 1, do: "", else: "s"}\n",
            d
            |> Enum.sort_by(fn {out, {_, by}} -> {-(by |> Map.values() |> Enum.sum()), out} end)
            |> Enum.map(fn {out, {summary, by}} ->
              k = by |> Map.values() |> Enum.sum()

              [
                "\n#{k} play#{if k == 1, do: "", else: "s"} (#{fmt_by(by, labels)}): #{summary}\n",
                out |> String.split("\n") |> Enum.drop(-1) |> Enum.map(fn "" -> "|\n"; l -> "| #{l}\n" end)
              ]
            end)
          ]
        end
      ]

      File.write!(Path.join(dir, "#{name}.dialogues"), text)
    end)

    IO.puts(:stderr, "kv_runner: merged #{length(files)} count files (#{Enum.join(labels, ", ")}) into #{map_size(merged)} pairs")
  end

  defp fmt_by(by, labels) do
    labels
    |> Enum.filter(&Map.has_key?(by, &1))
    |> Enum.map(fn l -> "#{l} #{Map.fetch!(by, l)}" end)
    |> Enum.join(", ")
  end

  # The dialogues recorded in a .dialogues file: %{stage => MapSet}.
  def read_dialogues(path) do
    case File.read(path) do
      {:ok, text} -> parse_blocks(text, ~r/^stage ([^:]+):/, ~r/^\d+ plays? \(/, :bars)
      {:error, _} -> %{}
    end
  end

  # The dialogues listed in kvsim-only.md: %{{name, stage} => MapSet}.
  def read_kvsim_only(path) do
    case File.read(path) do
      {:ok, text} -> parse_blocks(text, ~r/^### `([^`]+)` on `([^`]+)`/, nil, :fence)
      {:error, _} -> %{}
    end
  end

  # A small line parser shared by both files: a `head` line opens a group
  # (its captures are the key); in :bars form a `start` line opens a
  # dialogue whose lines follow as "| text" or "|"; in :fence form the
  # dialogue is the text between a line "```" and the next "```".
  defp parse_blocks(text, head, start, form) do
    lines = String.split(text, "\n")

    {acc, key, cur} =
      Enum.reduce(lines, {%{}, nil, nil}, fn line, {acc, key, cur} ->
        case {Regex.run(head, line, capture: :all_but_first), form} do
          {[_ | _] = caps, _} ->
            {flush(acc, key, cur), key_of(caps), nil}

          {nil, :bars} ->
            cond do
              Regex.match?(start, line) -> {flush(acc, key, cur), key, []}
              cur != nil and line == "|" -> {acc, key, ["" | cur]}
              cur != nil and String.starts_with?(line, "| ") -> {acc, key, [String.slice(line, 2..-1//1) | cur]}
              true -> {acc, key, cur}
            end

          {nil, :fence} ->
            cond do
              line == "```" and cur == nil and key != nil -> {acc, key, []}
              line == "```" and cur != nil -> {flush(acc, key, cur), key, nil}
              cur != nil -> {acc, key, [line | cur]}
              true -> {acc, key, cur}
            end
        end
      end)

    # A :bars dialogue ends at the end of the file; an unclosed fence is
    # dropped.
    if form == :bars, do: flush(acc, key, cur), else: acc
  end

  defp key_of([stage]), do: stage
  defp key_of([name, stage]), do: {name, stage}

  defp flush(acc, _key, nil), do: acc
  defp flush(acc, nil, _cur), do: acc

  defp flush(acc, key, cur) do
    out = cur |> Enum.reverse() |> Enum.map(&(&1 <> "\n")) |> Enum.join()
    Map.update(acc, key, MapSet.new([out]), &MapSet.put(&1, out))
  end

  # --check-multi N: every pair N times, every other play with delays; each
  # dialogue neither recorded nor listed as reached by kvsim is written to
  # --out DIR and reported.
  defp check_multi(pairs, parsed, n, out_dir) do
    dir_cache = :ets.new(:cache, [:set])

    known = fn script, stage ->
      dir = Path.dirname(script)
      name = Path.basename(script, ".kv")

      rec =
        case :ets.lookup(dir_cache, {:rec, script}) do
          [{_, r}] -> r
          [] -> r = read_dialogues(Path.join(dir, "#{name}.dialogues")); :ets.insert(dir_cache, {{:rec, script}, r}); r
        end

      only =
        case :ets.lookup(dir_cache, {:only, dir}) do
          [{_, o}] -> o
          [] -> o = read_kvsim_only(Path.join(dir, "kvsim-only.md")); :ets.insert(dir_cache, {{:only, dir}, o}); o
        end

      MapSet.union(Map.get(rec, stage, MapSet.new()), Map.get(only, {name, stage}, MapSet.new()))
    end

    results =
      for {script, stage} <- pairs do
        clients = Map.fetch!(parsed, script)
        allowed = known.(script, stage)

        seen =
          for i <- 1..n, reduce: %{} do
            acc ->
              {out, _} = play(clients, stage, rem(i, 2) == 0)
              Map.update(acc, out, 1, &(&1 + 1))
          end

        unknown = seen |> Map.keys() |> Enum.reject(&MapSet.member?(allowed, &1)) |> Enum.sort()

        cond do
          MapSet.size(allowed) == 0 ->
            IO.puts("MISSING #{script} #{stage}")
            :failed

          unknown == [] ->
            :passed

          true ->
            name = Path.basename(script, ".kv")

            for {out, j} <- Enum.with_index(unknown, 1) do
              file = Path.join(out_dir || ".", "#{name}.#{stage}.#{j}.txt")
              File.write!(file, out)
              IO.puts("UNRECORDED #{script} #{stage} #{file}")
            end

            :failed
        end
      end

    freq = Enum.frequencies(results)
    {freq[:passed] || 0, freq[:failed] || 0}
  end

  ## ---- main ------------------------------------------------------------

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
    {opts, args, invalid} =
      OptionParser.parse(argv,
        strict: [
          out: :string,
          check: :boolean,
          pairs: :string,
          stages: :string,
          quiet: :boolean,
          versions: :boolean,
          repeat: :integer,
          delays: :boolean,
          plays: :integer,
          counts: :string,
          merge: :string,
          check_multi: :integer
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

    if dir = opts[:merge] do
      merge(dir, args)
      System.halt(0)
    end

    scripts = args

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
    delays = opts[:delays] || false

    parsed =
      pairs
      |> Enum.map(&elem(&1, 0))
      |> Enum.uniq()
      |> Map.new(fn script ->
        case parse(script) do
          {:ok, clients} ->
            {script, clients}

          {:error, msg} ->
            IO.puts(:stderr, msg)
            System.halt(2)
        end
      end)

    if n = opts[:repeat] do
      repeat(pairs, parsed, n, delays)
      System.halt(0)
    end

    if n = opts[:plays] do
      file = opts[:counts] || (IO.puts(:stderr, "kv_runner: --plays needs --counts FILE"); System.halt(2))
      plays(pairs, parsed, n, delays, file)
      System.halt(0)
    end

    if n = opts[:check_multi] do
      {passed, failed} = check_multi(pairs, parsed, n, out_dir)

      unless opts[:quiet] do
        IO.puts(:stderr, "kv_runner: #{length(pairs)} pairs x #{n} plays: #{passed} passed, #{failed} failed")
      end

      System.halt(if failed > 0, do: 1, else: 0)
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
          {out, _} = play(Map.fetch!(parsed, script), stage, delays)
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
