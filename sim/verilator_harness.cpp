// Verilator harness for an hwgen top level: streams words through s_axis / m_axis.
//
// Built by hwgen/simulation/verilator.py together with the Verilog, with the model class named
// Vtop (verilator --prefix Vtop) and the port widths defined as HWGEN_IN_BITS and HWGEN_OUT_BITS
// (multiples of 8) ahead of this source. One source serves every design. With probes (see
// hwgen/simulation/taps.py), HWGEN_PROBES is defined too and the generated "hwgen_probes.h",
// beside this source, reads the design's tapped streams and level signals every cycle, made
// public by a generated Verilator configuration file; without it the loop has no probe code.
//
// The top level's ports: ap_clk, ap_rst_n (active-low synchronous reset),
// s_axis_tdata/tvalid/tready/tlast, m_axis_tdata/tvalid/tready/tlast, tlast_error (sticky: the
// design saw s_axis_tlast high on a word that does not end an input frame).
//
// Command line (all values decimal):
//   --input FILE       input words, HWGEN_IN_BITS/8 little-endian bytes each
//   --output FILE      results (layout below)
//   --outputs N        output words to expect
//   --seed S           seeds the gap and stall random streams (default 0)
//   --gap P            chance that the producer idles on a cycle before offering a word
//                      (0 <= P < 1)
//   --stall P          chance that the consumer holds m_axis_tready low on a cycle (0 <= P < 1)
//   --burst B          mean length of the on and off periods, in units of those of independent
//                      draws (B >= 1; default 1): the producer and the consumer each alternate
//                      between on and off periods of geometric lengths, off a fraction P of
//                      their cycles (P = the --gap or --stall probability), the off periods
//                      B / (1 - P) cycles long on average and the on periods B / P. B = 1 is
//                      one independent draw per cycle. The producer's pattern advances on the
//                      cycles in which it has no word waiting, the consumer's on every cycle
//                      before the drain.
//   --max-cycles N     fail after N cycles after reset (0: no limit, the default)
//   --idle-limit N     fail after N consecutive cycles without any transfer (default 100000;
//                      0: no limit)
//   --drain N          cycles to stay ready after the last expected word, failing if any other
//                      word appears (default 16)
//   --in-frame N       words per input frame: s_axis_tlast is high on every Nth word (0, the
//                      default: s_axis_tlast stays low, as from a source without TLAST)
//   --out-frame N      words per output frame: m_axis_tlast must be high on every Nth output word
//                      and low on the others (0, the default: m_axis_tlast is not checked)
//   --vcd FILE         dump a VCD trace (only in a build made with --trace)
//
// Timing: reset (ap_rst_n low, tvalid and tready low) for RESET_CYCLES cycles, then cycle 0 is
// the first cycle out of reset; every recorded cycle counts from there. In each cycle the harness
// sets the inputs with the clock low, evaluates, samples the handshakes (a transfer happens in a
// cycle where tvalid and tready are both high), then raises the clock. This numbering matches
// hwgen.simulation.streams.run_stream, whose cycle 0 is the first simulated cycle.
//
// The producer never withdraws tvalid or changes tdata or tlast before its word is taken; the
// consumer checks that the design does the same on m_axis, and that tlast_error stays low.
//
// Results file, little-endian: 8-byte magic "HWGENVR1"; uint64 fields n_out (output words
// recorded), n_in (input transfers), cycles (cycle of the last expected output + 1, or 0 if it
// never came), total_cycles (cycles simulated, reset and drain included), sim_ns (wall-clock
// nanoseconds of the simulation loop), out_bytes; then n_out words of out_bytes bytes each, n_out
// uint64 output cycles, n_in uint64 input cycles; then the probes: uint64 n_streams and for each
// tapped stream (in the order of the probes) a uint64 word count followed by the words, each of
// the payload's width rounded up to whole bytes; uint64 n_levels and each level signal's largest
// value as a uint64 (zero counts without probes). The file is written on success (exit 0) and on
// a simulation error (exit 1, message on stderr) alike; usage and I/O errors exit 2.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "verilated.h"
#include "Vtop.h"
#if VM_TRACE
#include "verilated_vcd_c.h"
#endif

#ifndef HWGEN_IN_BITS
#error "define HWGEN_IN_BITS (width of s_axis_tdata)"
#endif
#ifndef HWGEN_OUT_BITS
#error "define HWGEN_OUT_BITS (width of m_axis_tdata)"
#endif

static constexpr size_t IN_BYTES = HWGEN_IN_BITS / 8;
static constexpr size_t OUT_BYTES = HWGEN_OUT_BITS / 8;
static constexpr int RESET_CYCLES = 4;

// The port types: CData, SData, IData, QData or VlWide<words> (members of Vtop may be references).
template <typename T>
using Bare = std::remove_cv_t<std::remove_reference_t<T>>;
using InPort = Bare<decltype(std::declval<Vtop>().s_axis_tdata)>;
using OutPort = Bare<decltype(std::declval<Vtop>().m_axis_tdata)>;

// Verilator stores 1-8, 9-16, 17-32, 33-64 bit ports in 1, 2, 4, 8 byte integers and wider ones
// in VlWide arrays of 32-bit words; catch a width that disagrees with the model at compile time.
static constexpr size_t storage_bytes(size_t bits) {
    return bits <= 8    ? 1
           : bits <= 16 ? 2
           : bits <= 32 ? 4
           : bits <= 64 ? 8
                        : 4 * ((bits + 31) / 32);
}
static_assert(HWGEN_IN_BITS % 8 == 0 && HWGEN_OUT_BITS % 8 == 0, "widths must be whole bytes");
static_assert(sizeof(InPort) == storage_bytes(HWGEN_IN_BITS),
              "HWGEN_IN_BITS does not match the width of s_axis_tdata");
static_assert(sizeof(OutPort) == storage_bytes(HWGEN_OUT_BITS),
              "HWGEN_OUT_BITS does not match the width of m_axis_tdata");

// Copy a little-endian byte string into a port, and a port into one.
template <size_t N, typename T>
static void load_le(T& port, const uint8_t* src) {
    if constexpr (VlIsVlWide<T>::value) {
        for (size_t w = 0; w < T::Words; ++w) {
            EData value = 0;
            for (size_t b = 0; b < 4 && 4 * w + b < N; ++b)
                value |= EData(src[4 * w + b]) << (8 * b);
            port.data()[w] = value;
        }
    } else {
        uint64_t value = 0;
        for (size_t b = 0; b < N; ++b) value |= uint64_t(src[b]) << (8 * b);
        port = static_cast<T>(value);
    }
}

template <size_t N, typename T>
static void store_le(const T& port, uint8_t* dst) {
    if constexpr (VlIsVlWide<T>::value) {
        for (size_t b = 0; b < N; ++b) dst[b] = uint8_t(port.data()[b / 4] >> (8 * (b % 4)));
    } else {
        for (size_t b = 0; b < N; ++b) dst[b] = uint8_t(uint64_t(port) >> (8 * b));
    }
}

static std::string hex(const OutPort& port) {
    uint8_t bytes[OUT_BYTES];
    store_le<OUT_BYTES>(port, bytes);
    std::string text = "0x";
    char digits[3];
    for (size_t b = OUT_BYTES; b-- > 0;) {
        std::snprintf(digits, sizeof digits, "%02x", bytes[b]);
        text += digits;
    }
    return text;
}

#ifdef HWGEN_PROBES
#include "hwgen_probes.h"
#else
static constexpr size_t STREAM_PROBES = 0;
static constexpr size_t LEVEL_PROBES = 0;
#endif

// What the probes saw: the words transferred on each tapped stream, and the largest value each
// level signal took (sampled every cycle, before the clock edge, as the ports' handshakes are).
struct ProbeRecorder {
    std::array<std::vector<uint8_t>, STREAM_PROBES> words;
    std::array<uint64_t, STREAM_PROBES> counts{};
    std::array<uint64_t, LEVEL_PROBES> maxima{};

    template <size_t N, typename T>
    void transfer(size_t k, const T& payload) {
        std::vector<uint8_t>& stream = words[k];
        const size_t at = stream.size();
        stream.resize(at + N);
        store_le<N>(payload, &stream[at]);
        ++counts[k];
    }
    template <typename T>
    void level(size_t k, const T& value) {
        maxima[k] = std::max<uint64_t>(maxima[k], value);
    }
};

// xoshiro256** seeded through splitmix64: fast, and good enough for gap and stall patterns.
class Rng {
  public:
    explicit Rng(uint64_t seed) {
        for (auto& word : s_) {
            seed += 0x9e3779b97f4a7c15ULL;
            uint64_t z = seed;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            word = z ^ (z >> 31);
        }
    }
    uint64_t next() {
        const uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    // True with probability `threshold` / 2^64 (see probability_threshold).
    bool chance(uint64_t threshold) { return threshold && next() < threshold; }

  private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    uint64_t s_[4];
};

static uint64_t probability_threshold(double p) {
    return p <= 0 ? 0 : p >= 1 ? UINT64_MAX : static_cast<uint64_t>(p * 18446744073709551616.0);
}

// The on/off pattern of one port (see --burst): a two-state chain, one step per draw, that goes
// off with chance P / B when on and stays off with chance 1 - (1 - P) / B when off, so that it
// is off a fraction P of the draws. At B = 1 both chances are P: independent draws.
class OnOff {
  public:
    OnOff(uint64_t seed, double off_fraction, double burst)
        : rng_(seed),
          to_off_(probability_threshold(off_fraction / burst)),
          stay_off_(probability_threshold(burst == 1 ? off_fraction
                                                     : 1 - (1 - off_fraction) / burst)) {}
    bool off() {
        off_ = rng_.chance(off_ ? stay_off_ : to_off_);
        return off_;
    }

  private:
    Rng rng_;
    uint64_t to_off_, stay_off_;
    bool off_ = false;
};

struct Options {
    const char* input = nullptr;
    const char* output = nullptr;
    const char* vcd = nullptr;
    uint64_t outputs = 0;
    uint64_t seed = 0;
    double gap = 0;
    double stall = 0;
    double burst = 1;
    uint64_t max_cycles = 0;
    uint64_t idle_limit = 100000;
    uint64_t drain = 16;
    uint64_t in_frame = 0;
    uint64_t out_frame = 0;
    bool have_outputs = false;
};

[[noreturn]] static void usage_error(const std::string& message) {
    std::fprintf(stderr, "hwgen harness: %s\n", message.c_str());
    std::exit(2);
}

static uint64_t parse_count(const char* name, const char* text) {
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text, &end, 10);
    if (!*text || *end || text[0] == '-') usage_error(std::string(name) + ": not a count: " + text);
    return value;
}

static double parse_probability(const char* name, const char* text) {
    char* end = nullptr;
    const double value = std::strtod(text, &end);
    if (!*text || *end || !(value >= 0 && value < 1))
        usage_error(std::string(name) + ": not a probability in [0, 1): " + text);
    return value;
}

static Options parse_options(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; i += 2) {
        const std::string name = argv[i];
        if (i + 1 >= argc) usage_error(name + " needs a value");
        const char* value = argv[i + 1];
        if (name == "--input") opt.input = value;
        else if (name == "--output") opt.output = value;
        else if (name == "--vcd") opt.vcd = value;
        else if (name == "--outputs") {
            opt.outputs = parse_count("--outputs", value);
            opt.have_outputs = true;
        }
        else if (name == "--seed") opt.seed = parse_count("--seed", value);
        else if (name == "--gap") opt.gap = parse_probability("--gap", value);
        else if (name == "--stall") opt.stall = parse_probability("--stall", value);
        else if (name == "--burst") {
            char* end = nullptr;
            opt.burst = std::strtod(value, &end);
            if (!*value || *end || !(opt.burst >= 1))
                usage_error(std::string("--burst: not a length of at least 1: ") + value);
        }
        else if (name == "--max-cycles") opt.max_cycles = parse_count("--max-cycles", value);
        else if (name == "--idle-limit") opt.idle_limit = parse_count("--idle-limit", value);
        else if (name == "--drain") opt.drain = parse_count("--drain", value);
        else if (name == "--in-frame") opt.in_frame = parse_count("--in-frame", value);
        else if (name == "--out-frame") opt.out_frame = parse_count("--out-frame", value);
        else usage_error("unknown option " + name);
    }
    if (!opt.input || !opt.output || !opt.have_outputs)
        usage_error("usage: --input FILE --output FILE --outputs N [--seed S] [--gap P] "
                    "[--stall P] [--burst B] [--max-cycles N] [--idle-limit N] [--drain N] "
                    "[--in-frame N] [--out-frame N] [--vcd FILE]");
#if !VM_TRACE
    if (opt.vcd) usage_error("--vcd needs a build with tracing");
#endif
    return opt;
}

static std::vector<uint8_t> read_file(const char* path) {
    FILE* file = std::fopen(path, "rb");
    if (!file) usage_error(std::string("cannot open ") + path);
    std::fseek(file, 0, SEEK_END);
    const long size = std::ftell(file);
    std::fseek(file, 0, SEEK_SET);
    std::vector<uint8_t> data(size > 0 ? size : 0);
    if (std::fread(data.data(), 1, data.size(), file) != data.size())
        usage_error(std::string("cannot read ") + path);
    std::fclose(file);
    return data;
}

static void write_u64s(FILE* file, const uint64_t* values, uint64_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    std::fwrite(values, 8, n, file);   // already the file's byte order
#else
    for (uint64_t i = 0; i < n; ++i) {
        uint8_t bytes[8];
        for (int b = 0; b < 8; ++b) bytes[b] = uint8_t(values[i] >> (8 * b));
        std::fwrite(bytes, 1, 8, file);
    }
#endif
}

int main(int argc, char** argv) {
    const Options opt = parse_options(argc, argv);
    const std::vector<uint8_t> input = read_file(opt.input);
    if (input.size() % IN_BYTES) usage_error("input file size is not a multiple of the word size");
    const uint64_t n_inputs = input.size() / IN_BYTES;

    const auto context = std::make_unique<VerilatedContext>();
    context->debug(0);
#if VM_TRACE
    if (opt.vcd) context->traceEverOn(true);
#endif
    const auto top = std::make_unique<Vtop>(context.get(), "top");
#if VM_TRACE
    std::unique_ptr<VerilatedVcdC> trace;
    if (opt.vcd) {
        trace = std::make_unique<VerilatedVcdC>();
        top->trace(trace.get(), 99);
        trace->open(opt.vcd);
    }
#endif
    // Evaluate with the current inputs, dumping the trace (if any) one time step later.
    auto eval = [&]() {
        top->eval();
#if VM_TRACE
        if (trace) {
            trace->dump(context->time());
            context->timeInc(1);
        }
#endif
    };

    // Results, allocated up front so that the loop never allocates.
    std::vector<uint8_t> out_words(opt.outputs * OUT_BYTES);
    std::vector<uint64_t> out_cycles(opt.outputs);
    std::vector<uint64_t> in_cycles(n_inputs);
    uint64_t n_out = 0, n_in = 0, last_cycles = 0, total_cycles = 0;
    std::string error;

    OnOff source(opt.seed * 2 + 1, opt.gap, opt.burst);
    OnOff sink(opt.seed * 2 + 2, opt.stall, opt.burst);
    ProbeRecorder probes;

    const auto start = std::chrono::steady_clock::now();
    top->ap_rst_n = 0;
    top->s_axis_tvalid = 0;
    top->s_axis_tlast = 0;
    top->m_axis_tready = 0;
    for (int i = 0; i < RESET_CYCLES; ++i) {
        top->ap_clk = 0;
        eval();
        top->ap_clk = 1;
        eval();
    }
    total_cycles = RESET_CYCLES;
    top->ap_rst_n = 1;

    OutPort pending{};          // word offered but not taken in the previous cycle
    bool pending_last = false;  // its m_axis_tlast
    bool have_pending = false;
    bool offering = false;      // s_axis_tvalid is high with word n_in on s_axis_tdata
    uint64_t idle = 0;          // consecutive cycles without a transfer
    for (uint64_t cycle = 0;; ++cycle) {
        // Inputs for this cycle: offer the next word unless idling for a gap; once offered it
        // stays until taken.
        if (!offering && n_in < n_inputs && !source.off()) {
            load_le<IN_BYTES>(top->s_axis_tdata, &input[n_in * IN_BYTES]);
            top->s_axis_tlast = opt.in_frame && (n_in + 1) % opt.in_frame == 0;
            offering = true;
        }
        top->s_axis_tvalid = offering;
        const bool draining = n_out == opt.outputs;
        top->m_axis_tready = draining || !sink.off();
        top->ap_clk = 0;
        eval();
#ifdef HWGEN_PROBES
        sample_probes(*top->rootp, probes);
#endif

        const bool out_valid = top->m_axis_tvalid;
        const bool out_last = top->m_axis_tlast;
        if (have_pending &&
            (!out_valid || top->m_axis_tdata != pending || out_last != pending_last)) {
            error = "cycle " + std::to_string(cycle) + ": output word " + std::to_string(n_out) +
                    " withdrawn or changed before it was taken (was " + hex(pending) +
                    " tlast=" + std::to_string(pending_last) + ", now tvalid=" +
                    std::to_string(out_valid) + " tdata=" + hex(top->m_axis_tdata) +
                    " tlast=" + std::to_string(out_last) + ")";
            break;
        }
        if (top->tlast_error) {
            error = "cycle " + std::to_string(cycle) + ": tlast_error is set: the design saw " +
                    "s_axis_tlast high on a word that does not end an input frame (" +
                    std::to_string(n_in) + " input words taken; the harness raises tlast " +
                    (opt.in_frame ? "every " + std::to_string(opt.in_frame) + " words)"
                                  : "never)");
            break;
        }
        have_pending = false;
        bool moved = false;
        if (offering && top->s_axis_tready) {
            in_cycles[n_in++] = cycle;
            offering = false;
            moved = true;
        }
        if (out_valid && top->m_axis_tready) {
            if (draining) {
                error = "cycle " + std::to_string(cycle) + ": output word " +
                        std::to_string(n_out) + " beyond the " + std::to_string(opt.outputs) +
                        " expected (" + hex(top->m_axis_tdata) + ")";
                break;
            }
            const bool frame_end = opt.out_frame && (n_out + 1) % opt.out_frame == 0;
            if (opt.out_frame && out_last != frame_end) {
                error = "cycle " + std::to_string(cycle) + ": output word " +
                        std::to_string(n_out) + ": m_axis_tlast is " +
                        std::to_string(out_last) + ", expected " + std::to_string(frame_end) +
                        " (frames of " + std::to_string(opt.out_frame) + " words)";
                break;
            }
            store_le<OUT_BYTES>(top->m_axis_tdata, &out_words[n_out * OUT_BYTES]);
            out_cycles[n_out++] = cycle;
            if (n_out == opt.outputs) last_cycles = cycle + 1;
            moved = true;
        } else if (out_valid) {
            pending = top->m_axis_tdata;
            pending_last = out_last;
            have_pending = true;
        }

        top->ap_clk = 1;
        eval();
        ++total_cycles;

        idle = moved ? 0 : idle + 1;
        if (n_out == opt.outputs && cycle + 1 >= last_cycles + opt.drain) break;
        if (opt.idle_limit && idle >= opt.idle_limit) {
            error = "no progress for " + std::to_string(idle) + " cycles (deadlock?) at cycle " +
                    std::to_string(cycle) + ": " + std::to_string(n_out) + " of " +
                    std::to_string(opt.outputs) + " outputs, " + std::to_string(n_in) + " of " +
                    std::to_string(n_inputs) + " inputs taken";
            break;
        }
        if (opt.max_cycles && cycle + 1 >= opt.max_cycles) {
            error = "cycle limit of " + std::to_string(opt.max_cycles) + " reached: " +
                    std::to_string(n_out) + " of " + std::to_string(opt.outputs) + " outputs, " +
                    std::to_string(n_in) + " of " + std::to_string(n_inputs) + " inputs taken";
            break;
        }
    }
    const auto sim_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now() - start).count();
    top->final();
#if VM_TRACE
    if (trace) trace->close();
#endif

    FILE* file = std::fopen(opt.output, "wb");
    if (!file) usage_error(std::string("cannot write ") + opt.output);
    std::fwrite("HWGENVR1", 1, 8, file);
    const uint64_t header[] = {n_out, n_in, last_cycles, total_cycles, uint64_t(sim_ns), OUT_BYTES};
    write_u64s(file, header, 6);
    std::fwrite(out_words.data(), 1, n_out * OUT_BYTES, file);
    write_u64s(file, out_cycles.data(), n_out);
    write_u64s(file, in_cycles.data(), n_in);
    const uint64_t n_streams = STREAM_PROBES, n_levels = LEVEL_PROBES;
    write_u64s(file, &n_streams, 1);
    for (size_t k = 0; k < STREAM_PROBES; ++k) {
        write_u64s(file, &probes.counts[k], 1);
        std::fwrite(probes.words[k].data(), 1, probes.words[k].size(), file);
    }
    write_u64s(file, &n_levels, 1);
    write_u64s(file, probes.maxima.data(), LEVEL_PROBES);
    if (std::fclose(file) != 0) usage_error(std::string("cannot write ") + opt.output);

    if (!error.empty()) {
        std::fprintf(stderr, "hwgen harness: error: %s\n", error.c_str());
        return 1;
    }
    return 0;
}
