//! The development transport: each message becomes an `.eml` file any mail client opens.

use std::path::PathBuf;

use super::SendError;

pub struct FileTransport {
    dir: PathBuf,
}

impl FileTransport {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// Writes `<name>.eml` atomically (temporary file, then rename), so a reader of the folder
    /// never sees half a message and a retry overwrites rather than duplicates.
    pub async fn write(&self, name: &str, body: &[u8]) -> Result<(), SendError> {
        let io = |e: std::io::Error| {
            SendError::Temporary(format!("writing to {}: {e}", self.dir.display()))
        };
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        let path = self.dir.join(format!("{name}.eml"));
        let tmp = self.dir.join(format!(".{name}.eml.tmp"));
        tokio::fs::write(&tmp, body).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)?;
        Ok(())
    }
}
