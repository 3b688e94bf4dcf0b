"""Ask every server for the SOA of every zone, every 50 ms, until the stop file appears; print what failed.

A failure is any answer that is not an authoritative NOERROR with the SOA (REFUSED while a zone is being
moved, a timeout while a server reloads). The molecule scenario asserts there are none during a switch.
"""

import json
import os
import sys
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode


def main(zones, servers, stop_file, limit):
    end = time.time() + limit
    failures = []
    asked = 0
    while time.time() < end and not os.path.exists(stop_file):
        for zone in zones:
            for server in servers:
                query = dns.message.make_query(zone, 'SOA')
                query.flags &= ~dns.flags.RD
                try:
                    answer = dns.query.udp(query, server, timeout=1)
                    if answer.rcode() != dns.rcode.NOERROR or not answer.flags & dns.flags.AA or not answer.answer:
                        failures.append([round(time.time(), 2), zone, server, dns.rcode.to_text(answer.rcode())])
                except Exception as exc:  # a timeout or a reset is a failure to serve as well
                    failures.append([round(time.time(), 2), zone, server, type(exc).__name__])
                asked += 1
        time.sleep(0.05)
    print(json.dumps({'asked': asked, 'failures': len(failures), 'first': failures[:20],
                      'stopped': os.path.exists(stop_file)}))


if __name__ == '__main__':
    main(sys.argv[1].split(','), sys.argv[2].split(','), sys.argv[3], float(sys.argv[4]))
