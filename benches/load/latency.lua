-- wrk done() hook: one machine-readable line with exact percentiles (µs) and counts.
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout
  io.write(string.format("WRK requests=%d duration_us=%d errors=%d non2xx=%d p50=%d p99=%d p999=%d\n",
    summary.requests, summary.duration, errors, summary.errors.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
