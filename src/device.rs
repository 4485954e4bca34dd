//! Choosing the compute device at run time (`--device cpu|cuda:N`).

use candle_core::Device;

/// A device as the user names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSpec {
    Cpu,
    Cuda(usize),
}

impl std::str::FromStr for DeviceSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        if s == "cpu" {
            return Ok(DeviceSpec::Cpu);
        }
        if s == "cuda" || s == "gpu" {
            return Ok(DeviceSpec::Cuda(0));
        }
        if let Some(n) = s.strip_prefix("cuda:") {
            return n
                .parse()
                .map(DeviceSpec::Cuda)
                .map_err(|_| format!("bad CUDA device number in '{s}'"));
        }
        Err(format!("unknown device '{s}' (expected cpu or cuda:N)"))
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceSpec {
    /// Opens the device; asking for CUDA in a build without it is an error, never a silent fallback.
    pub fn open(self) -> Result<Device, String> {
        match self {
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Cuda(n) => {
                if !cfg!(feature = "cuda") {
                    return Err(format!(
                        "--device {self}: this build of vqtex has no CUDA support; rebuild with \
                         `cargo build --release --features cuda`"
                    ));
                }
                Device::new_cuda(n)
                    .map_err(|e| format!("--device {self}: cannot open the GPU: {e}"))
            }
        }
    }
}

/// A short description of a device for status lines.
pub fn describe(device: &Device) -> String {
    match device {
        Device::Cpu => format!(
            "cpu ({} threads)",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        ),
        Device::Cuda(_) => "cuda".to_string(),
        _ => "other".to_string(),
    }
}
