// transport/internal/nv.h — OutgoingField lists as nghttp2_nv arrays (views, no copies: nghttp2
// copies the fields when a frame is submitted).
//
// Threading: any. Lifetime: the array points into `fields`, which must outlive its use.
#ifndef H2RPC_TRANSPORT_INTERNAL_NV_H_
#define H2RPC_TRANSPORT_INTERNAL_NV_H_

#include <nghttp2/nghttp2.h>

#include <vector>

#include "transport/headers.h"

namespace h2rpc::transport::internal {

inline std::vector<nghttp2_nv> toNv(const std::vector<OutgoingField>& fields) {
  std::vector<nghttp2_nv> nva;
  nva.reserve(fields.size());
  for (const OutgoingField& f : fields) {
    nghttp2_nv nv;
    nv.name = reinterpret_cast<uint8_t*>(const_cast<char*>(f.name.data()));
    nv.namelen = f.name.size();
    nv.value = reinterpret_cast<uint8_t*>(const_cast<char*>(f.value.data()));
    nv.valuelen = f.value.size();
    nv.flags = f.neverIndex ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE;
    nva.push_back(nv);
  }
  return nva;
}

}  // namespace h2rpc::transport::internal

#endif  // H2RPC_TRANSPORT_INTERNAL_NV_H_
