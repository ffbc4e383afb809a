// Whole-process timing of `fedrad extract` against its peers, in one run
// (issue 15): the machine is shared, so only ratios measured side by side
// mean something. Each command is a child process; the benchmark prints its
// wall time, CPU time (user + system) and peak resident memory (getrusage of
// the child), then the ratios.
//
// The volumes are generated here and written as int16 / uint8 NIfTI:
//   bench/    200^3 CT-like noise (60 + 25 N(0,1) HU, 0.8 x 0.8 x 1.5 mm), a
//             ball of radius 80 voxels as mask (2,143,611 voxels): the volume
//             of /work/shared/peers/make_bench_volume.py (other noise draws).
//   clinical/ 512 x 512 x 200 int16 (0.78 x 0.78 x 2.5 mm): air, a body
//             ellipse, a liver ellipsoid of about 1.2 M voxels and three
//             lesions (labels 1..3), liver.nii.gz, lesions.nii.gz and
//             bkg.nii.gz (liver minus lesions, for PyRadiomics).
//
// Peers: the ITK peer (itk_texture_peer, built beside this program from
// features/peers/, ITK 5.2's co-occurrence and run-length filters) and
// PyRadiomics' default 7 classes when PYRADIOMICS_SRC names a prepared
// source tree (see /work/shared/peers/README.md; run_pyradiomics.py is found
// through PYRADIOMICS_RUNNER, default beside PYRADIOMICS_SRC's parent in
// /work/shared/peers/pyradiomics); skipped with a message otherwise.
//
//   build/bench/extract_process_benchmark [--dir /tmp/fedrad_bench] [--repeat 5]
//       [--peer-repeat 1] [--threads 2] [--fedrad PATH] [--skip-clinical] [--skip-bench]
// (fedrad runs: best wall time of --repeat; peers of --peer-repeat.)
// Not a test: nothing asserts on time.
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "itkImage.h"
#include "itkImageFileWriter.h"

namespace {

namespace fs = std::filesystem;

template <typename T>
bool WriteNifti(const std::vector<T>& v, const std::array<int, 3>& size,
                const std::array<double, 3>& spacing, const std::string& path) {
  using Image = itk::Image<T, 3>;
  auto image = Image::New();
  typename Image::RegionType region;
  typename Image::SpacingType sp;
  for (int d = 0; d < 3; ++d) {
    region.SetSize(d, size[d]);
    sp[d] = spacing[d];
  }
  image->SetRegions(region);
  image->SetSpacing(sp);
  image->Allocate();
  std::copy(v.begin(), v.end(), image->GetBufferPointer());
  try {
    auto w = itk::ImageFileWriter<Image>::New();
    w->SetFileName(path);
    w->SetInput(image);
    w->UseCompressionOn();
    w->Update();
  } catch (const itk::ExceptionObject& e) {
    std::fprintf(stderr, "cannot write %s: %s\n", path.c_str(), e.GetDescription());
    return false;
  }
  return true;
}

void WriteBenchVolume(const std::string& dir) {
  if (fs::exists(dir + "/img.nii.gz") && fs::exists(dir + "/mask.nii.gz")) return;
  fs::create_directories(dir);
  const int n = 200;
  std::vector<int16_t> img(size_t(n) * n * n), mask(img.size());
  std::mt19937_64 rng(0);
  std::normal_distribution<double> noise(0, 1);
  const double c = n / 2.0, r = 80;
  size_t i = 0;
  for (int z = 0; z < n; ++z)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x, ++i) {
        img[i] = static_cast<int16_t>(60 + 25 * noise(rng));  // truncation, as numpy's astype
        mask[i] = (x - c) * (x - c) + (y - c) * (y - c) + (z - c) * (z - c) < r * r;
      }
  WriteNifti(img, {n, n, n}, {0.8, 0.8, 1.5}, dir + "/img.nii.gz");
  WriteNifti(mask, {n, n, n}, {0.8, 0.8, 1.5}, dir + "/mask.nii.gz");
}

// The clinical-size liver case of issue 15.
void WriteClinicalCase(const std::string& dir) {
  if (fs::exists(dir + "/bkg.nii.gz")) return;
  fs::create_directories(dir);
  const std::array<int, 3> size{512, 512, 200};
  const std::array<double, 3> sp{0.78, 0.78, 2.5};
  const size_t nv = size_t(size[0]) * size[1] * size[2];
  std::vector<int16_t> ct(nv);
  std::vector<uint8_t> liver(nv, 0), lesions(nv, 0), bkg(nv, 0);
  std::mt19937_64 rng(15);
  std::normal_distribution<double> noise(0, 1);
  struct Ball { double cx, cy, cz, r_mm; };
  // Lesion centres in voxels, radius in mm.
  const Ball les[3] = {{300, 250, 100, 22}, {220, 300, 95, 14}, {280, 190, 112, 8}};
  size_t i = 0, n_liver = 0;
  for (int z = 0; z < size[2]; ++z)
    for (int y = 0; y < size[1]; ++y)
      for (int x = 0; x < size[0]; ++x, ++i) {
        double bx = (x - 256) / 230.0, by = (y - 256) / 170.0;
        double v = -1000 + 5 * noise(rng);
        if (bx * bx + by * by < 1) v = 40 + 15 * noise(rng);
        double lx = (x - 265) / 110.0, ly = (y - 245) / 85.0, lz = (z - 100) / 30.6;
        if (lx * lx + ly * ly + lz * lz < 1) {
          liver[i] = 1;
          ++n_liver;
          v = 60 + 0.1 * (x - 265) + 20 * noise(rng);
        }
        for (int k = 0; k < 3; ++k) {
          double dx = (x - les[k].cx) * sp[0], dy = (y - les[k].cy) * sp[1],
                 dz = (z - les[k].cz) * sp[2];
          if (dx * dx + dy * dy + dz * dz < les[k].r_mm * les[k].r_mm) {
            lesions[i] = static_cast<uint8_t>(k + 1);
            v = 30 + 25 * noise(rng);
          }
        }
        bkg[i] = liver[i] && !lesions[i];
        ct[i] = static_cast<int16_t>(std::lround(v));
      }
  std::printf("clinical case: liver %zu voxels\n", n_liver);
  WriteNifti(ct, size, sp, dir + "/ct.nii.gz");
  WriteNifti(liver, size, sp, dir + "/liver.nii.gz");
  WriteNifti(lesions, size, sp, dir + "/lesions.nii.gz");
  WriteNifti(bkg, size, sp, dir + "/bkg.nii.gz");
}

struct Usage {
  bool ok = false;
  double wall = 0, cpu = 0, max_rss_mb = 0;
};

// Runs argv as a child (stdout to `out_file`, stderr to `err_file`) and
// measures it.
Usage Run(const std::vector<std::string>& argv, const std::string& out_file,
          const std::string& err_file, const std::map<std::string, std::string>& env = {}) {
  Usage u;
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    int fo = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fo >= 0) dup2(fo, 1);
    if (fe >= 0) dup2(fe, 2);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  struct rusage ru {};
  if (pid < 0 || wait4(pid, &status, 0, &ru) < 0) return u;
  u.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  u.cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
          ru.ru_stime.tv_usec * 1e-6;
  u.max_rss_mb = ru.ru_maxrss / 1024.0;
  u.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return u;
}

// Best (lowest wall) of `repeat` runs.
Usage Best(int repeat, const std::string& name, const std::vector<std::string>& argv,
           const std::string& dir, const std::map<std::string, std::string>& env = {}) {
  Usage best;
  for (int r = 0; r < repeat; ++r) {
    Usage u = Run(argv, dir + "/" + name + ".out", dir + "/" + name + ".err", env);
    if (!u.ok) {
      std::printf("%-44s FAILED (see %s/%s.err)\n", name.c_str(), dir.c_str(), name.c_str());
      return u;
    }
    if (!best.ok || u.wall < best.wall) best = u;
  }
  std::printf("%-44s wall %7.2f s  cpu %7.2f s  peak RSS %7.0f MB\n", name.c_str(), best.wall,
              best.cpu, best.max_rss_mb);
  std::fflush(stdout);
  return best;
}

void Ratio(const char* what, const Usage& peer, const Usage& ours) {
  if (!peer.ok || !ours.ok) return;
  std::printf("  %-60s %6.1fx wall  %6.1fx cpu\n", what, peer.wall / ours.wall, peer.cpu / ours.cpu);
}

std::string Arg(int argc, char** argv, const std::string& flag, const std::string& dflt) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == flag) return argv[i + 1];
  }
  return dflt;
}

bool Has(int argc, char** argv, const std::string& flag) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i] == flag) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = Arg(argc, argv, "--dir", "/tmp/fedrad_bench");
  // fedrad runs are short and the machine is shared: best of 5 by default;
  // the peers (seconds each) run once unless --peer-repeat says otherwise.
  const int repeat = std::max(1, std::atoi(Arg(argc, argv, "--repeat", "5").c_str()));
  const int peer_repeat = std::max(1, std::atoi(Arg(argc, argv, "--peer-repeat", "1").c_str()));
  const std::string threads = Arg(argc, argv, "--threads", "2");
  const std::string bin_dir = fs::path(argv[0]).parent_path().string();
  const std::string fedrad = Arg(argc, argv, "--fedrad", FEDRAD_BIN_DIR "/fedrad");
  const std::string itk_peer = bin_dir + "/itk_texture_peer";
  const char* py_src = std::getenv("PYRADIOMICS_SRC");
  std::string runner = std::getenv("PYRADIOMICS_RUNNER") ? std::getenv("PYRADIOMICS_RUNNER")
                                                          : "/work/shared/peers/pyradiomics/run_pyradiomics.py";
  const bool pyrad = py_src && *py_src && fs::exists(runner);
  const std::string out = dir + "/out";
  fs::create_directories(out);
  std::printf("whole processes; fedrad best of %d, peers best of %d; fedrad --threads %s\n",
              repeat, peer_repeat, threads.c_str());
  if (!pyrad) {
    std::printf("PyRadiomics: skipped (set PYRADIOMICS_SRC to a source tree prepared by "
                "setup_pyradiomics.sh, and PYRADIOMICS_RUNNER to run_pyradiomics.py)\n");
  }
  auto py = [&](const std::string& name, const std::string& img, const std::string& mask) {
    return Best(peer_repeat, name,
                {"/usr/bin/python3", runner, "--image", img, "--mask", mask, "--bin-width", "25",
                 "--pyradiomics-src", py_src},
                out);
  };
  auto fr = [&](const std::string& name, std::vector<std::string> args) {
    std::vector<std::string> a = {fedrad, "extract", "--no-cache", "--threads", threads,
                                  "--out", out + "/" + name + ".csv"};
    a.insert(a.end(), args.begin(), args.end());
    return Best(repeat, name, a, out);
  };

  if (!Has(argc, argv, "--skip-bench")) {
    const std::string b = dir + "/bench";
    WriteBenchVolume(b);
    const std::string img = b + "/img.nii.gz", mask = b + "/mask.nii.gz";
    std::printf("\n=== benchmark volume 200^3, ROI 2,143,611 voxels ===\n");
    Usage itk;
    if (fs::exists(itk_peer)) {
      itk = Best(peer_repeat, "itk_peer glcm+glrlm 32 bins", {itk_peer, img, mask, "32"}, out);
    } else {
      std::printf("ITK peer: %s not built (target itk_texture_peer)\n", itk_peer.c_str());
    }
    Usage glcm = fr("fedrad glcm,glrlm 32 bins", {"--image", img, "--mask", mask, "--families",
                                                  "glcm,glrlm", "--bin-count", "32", "--format",
                                                  "long"});
    Usage stat = fr("fedrad stat", {"--image", img, "--mask", mask, "--families", "stat"});
    Usage all = fr("fedrad all IBSI families bw 25",
                   {"--image", img, "--mask", mask, "--bin-width", "25", "--format", "long"});
    Usage p;
    if (pyrad) p = py("pyradiomics 7 classes bw 25", img, mask);
    std::printf("ratios (peer / fedrad; targets 20x ITK, 30x PyRadiomics):\n");
    Ratio("ITK peer GLCM+GLRLM / fedrad glcm,glrlm", itk, glcm);
    Ratio("PyRadiomics 7 classes / fedrad all IBSI families", p, all);
    (void)stat;
  }
  if (!Has(argc, argv, "--skip-clinical")) {
    const std::string c = dir + "/clinical";
    WriteClinicalCase(c);
    const std::string ct = c + "/ct.nii.gz";
    std::printf("\n=== clinical case 512x512x200 int16 (CT %.0f MB as int16) ===\n",
                512.0 * 512 * 200 * 2 / 1048576);
    Usage all7 = fr("fedrad 7 regions all families bw 25",
                    {"--image", ct, "--mask", c + "/lesions.nii.gz", "--liver",
                     c + "/liver.nii.gz", "--bin-width", "25"});
    const std::string bkg_only = out + "/bkg_only.textproto";
    if (FILE* f = std::fopen(bkg_only.c_str(), "w")) {
      std::fputs("regions { each_lesion: false all_lesions: false liver: false "
                 "largest_lesion: false patient: false }\n", f);
      std::fclose(f);
    }
    Usage bkg = fr("fedrad BKG only all families bw 25",
                   {"--image", ct, "--mask", c + "/lesions.nii.gz", "--liver",
                    c + "/liver.nii.gz", "--bin-width", "25", "--settings", bkg_only});
    Usage p;
    if (pyrad) p = py("pyradiomics BKG 7 classes bw 25", ct, c + "/bkg.nii.gz");
    std::printf("ratios (target 15x PyRadiomics BKG; peak memory target %.0f MB = 3x CT int16):\n",
                3 * 512.0 * 512 * 200 * 2 / 1048576);
    Ratio("PyRadiomics BKG / fedrad 7 regions", p, all7);
    Ratio("PyRadiomics BKG / fedrad BKG only", p, bkg);
    // A cohort: 4 copies of the case, --threads 2 = 2 workers of 1 thread,
    // each holding one case's volumes.
    const std::string manifest = out + "/cohort.csv";
    if (FILE* f = std::fopen(manifest.c_str(), "w")) {
      std::fputs("case_id,image,lesion_mask,liver_mask\n", f);
      for (int k = 1; k <= 4; ++k) {
        std::fprintf(f, "c%d,%s,%s/lesions.nii.gz,%s/liver.nii.gz\n", k, ct.c_str(), c.c_str(),
                     c.c_str());
      }
      std::fclose(f);
    }
    Usage cohort = fr("fedrad cohort of 4 such cases",
                      {"--manifest", manifest, "--bin-width", "25"});
    if (cohort.ok) {
      std::printf("  cohort: %.2f s wall per case, CPU/wall %.2f (2 = both cores busy)\n",
                  cohort.wall / 4, cohort.cpu / cohort.wall);
    }
  }
  return 0;
}
