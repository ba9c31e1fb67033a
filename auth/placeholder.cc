// Keeps spacesfs_auth a real library until the credential store lands.
namespace spacesfs::auth {}
