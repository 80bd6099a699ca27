-- wrk script: rotate over the `fast` site's 10,000 pages, as a crawl fetches them
-- (`wrk -t2 -c64 -d5s -s tests/bench/peers/wrk-pages.lua URL`, URL from `bench __serve fast`).
counter = 0
request = function()
  counter = (counter + 1) % 10000
  return wrk.format("GET", "/p/" .. counter .. ".html")
end
