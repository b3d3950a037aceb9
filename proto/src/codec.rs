//! The codec every generated client and server uses: prost's, except that a message that does
//! not decode is the caller's fault. tonic's `ProstCodec` answers it with INTERNAL (gRPC's
//! status-code guide reserves that for the server's own broken invariants); the contract
//! promises INVALID_ARGUMENT, naming what prost could not read.

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstEncoder};

/// [`ProstCodec`], with undecodable input answered INVALID_ARGUMENT.
#[derive(Debug, Clone, Default)]
pub struct ContractCodec<T, U> {
    prost: ProstCodec<T, U>,
}

impl<T, U> Codec for ContractCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ContractDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.prost.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        ContractDecoder(PhantomData)
    }
}

/// Decodes `U`, refusing bytes that are not one with INVALID_ARGUMENT.
#[derive(Debug, Clone, Default)]
pub struct ContractDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for ContractDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        U::decode(buf).map(Some).map_err(|error| {
            Status::invalid_argument(format!(
                "the message is not a valid {}: {error}",
                std::any::type_name::<U>()
                    .rsplit("::")
                    .next()
                    .unwrap_or("message")
            ))
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}
