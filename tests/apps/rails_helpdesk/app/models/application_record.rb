class ApplicationRecord < ActiveRecord::Base
  self.abstract_class = true

  def self.iso(time)
    time&.utc&.iso8601(6)
  end
end
