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
                Device::new_cuda(n).map_err(|e| gpu_error(self, &e))
            }
        }
    }
}

/// candle's error without the backtrace it carries when `RUST_BACKTRACE` is set.
fn without_backtrace(e: &candle_core::Error) -> &candle_core::Error {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => without_backtrace(inner),
        _ => e,
    }
}

/// The message for a GPU that cannot be opened: the driver's error, and what to do about the
/// common ones.
fn gpu_error(spec: DeviceSpec, e: &candle_core::Error) -> String {
    let msg = without_backtrace(e).to_string();
    let hint = if msg.contains("CUDA_ERROR_INVALID_DEVICE") {
        "; there is no GPU of that number (`nvidia-smi -L` lists them, numbered from 0)"
    } else if msg.contains("CUDA_ERROR_NO_DEVICE") {
        "; the NVIDIA driver sees no GPU on this machine (see `nvidia-smi`)"
    } else if msg.contains("CUDA_ERROR_UNSUPPORTED_PTX_VERSION") {
        "; the NVIDIA driver is older than the CUDA toolkit vqtex was built with: rebuild with \
         CUDA_TOOLKIT_VERSION set to the driver's CUDA version (see scripts/build-cuda.sh)"
    } else {
        ""
    };
    format!("--device {spec}: cannot open the GPU: {msg}{hint}")
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

#[cfg(test)]
mod tests {
    use super::*;

    fn traced(msg: &str) -> candle_core::Error {
        candle_core::Error::WithBacktrace {
            inner: Box::new(candle_core::Error::Msg(msg.to_string())),
            backtrace: Box::new(std::backtrace::Backtrace::force_capture()),
        }
    }

    #[test]
    fn a_gpu_error_names_the_device_and_the_fix_without_a_backtrace() {
        let e = traced("DriverError(CUDA_ERROR_INVALID_DEVICE, \"invalid device ordinal\")");
        assert!(
            e.to_string().lines().count() > 1,
            "the test error carries a backtrace"
        );
        let msg = gpu_error(DeviceSpec::Cuda(7), &e);
        assert_eq!(msg.lines().count(), 1, "{msg}");
        assert!(msg.starts_with(
            "--device cuda:7: cannot open the GPU: DriverError(CUDA_ERROR_INVALID_DEVICE"
        ));
        assert!(msg.contains("nvidia-smi -L"), "{msg}");
        let msg = gpu_error(
            DeviceSpec::Cuda(0),
            &traced("CUDA_ERROR_UNSUPPORTED_PTX_VERSION"),
        );
        assert!(msg.contains("CUDA_TOOLKIT_VERSION"), "{msg}");
        let msg = gpu_error(DeviceSpec::Cuda(0), &candle_core::Error::Msg("odd".into()));
        assert_eq!(msg, "--device cuda:0: cannot open the GPU: odd");
    }

    #[test]
    fn cuda_in_a_build_without_it_is_an_error_not_the_cpu() {
        if cfg!(feature = "cuda") {
            return;
        }
        let err = DeviceSpec::Cuda(0).open().unwrap_err();
        assert!(
            err.contains("no CUDA support") && err.contains("--features cuda"),
            "{err}"
        );
        assert!(matches!(DeviceSpec::Cpu.open(), Ok(Device::Cpu)));
    }
}
