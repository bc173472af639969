// examples/route_guide/route_guide_db.h — a few features from gRPC's route_guide database, and
// the distance formula of the example (shared by the server and the client).
#ifndef H2RPC_EXAMPLES_ROUTE_GUIDE_ROUTE_GUIDE_DB_H_
#define H2RPC_EXAMPLES_ROUTE_GUIDE_ROUTE_GUIDE_DB_H_

#include <cmath>
#include <vector>

#include "examples/route_guide/route_guide.pb.h"

namespace h2rpc::examples {

inline std::vector<routeguide::Feature> RouteGuideFeatures() {
  struct Row {
    int lat, lon;
    const char* name;
  };
  static const Row kRows[] = {
      {407838351, -746143763, "Patriots Path, Mendham, NJ 07945, USA"},
      {408122808, -743999179, "101 New Jersey 10, Whippany, NJ 07981, USA"},
      {413628156, -749015468, "U.S. 6, Shohola, PA 18458, USA"},
      {419999544, -740371136, "5 Conners Road, Kingston, NY 12401, USA"},
      {414008389, -743951297, "Mid Hudson Psychiatric Center, New Hampton, NY 10958, USA"},
      {419611318, -746524769, "287 Flugertown Road, Livingston Manor, NY 12758, USA"},
      {406109563, -742186778, "4001 Tremley Point Road, Linden, NJ 07036, USA"},
      {416802456, -742370183, "352 South Mountain Road, Wallkill, NY 12589, USA"},
      {412950425, -741077389, "Bailey Turn Road, Harriman, NY 10926, USA"},
      {412144655, -743949739, "193-199 Wawayanda Road, Hewitt, NJ 07421, USA"},
  };
  std::vector<routeguide::Feature> features;
  for (const Row& r : kRows) {
    routeguide::Feature f;
    f.set_name(r.name);
    f.mutable_location()->set_latitude(r.lat);
    f.mutable_location()->set_longitude(r.lon);
    features.push_back(f);
  }
  return features;
}

// Great-circle distance in meters (the example's haversine formula).
inline double RouteDistance(const routeguide::Point& a, const routeguide::Point& b) {
  constexpr double kCoordFactor = 10000000.0, kRadius = 6371000, kPi = 3.14159265358979323846;
  auto rad = [&](double deg) { return deg * kPi / 180; };
  const double lat1 = rad(a.latitude() / kCoordFactor), lat2 = rad(b.latitude() / kCoordFactor);
  const double dlat = lat2 - lat1;
  const double dlon = rad((b.longitude() - a.longitude()) / kCoordFactor);
  const double h = std::sin(dlat / 2) * std::sin(dlat / 2) +
                   std::cos(lat1) * std::cos(lat2) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return kRadius * 2 * std::atan2(std::sqrt(h), std::sqrt(1 - h));
}

}  // namespace h2rpc::examples

#endif  // H2RPC_EXAMPLES_ROUTE_GUIDE_ROUTE_GUIDE_DB_H_
